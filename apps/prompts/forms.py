"""The dashboard's prompt editor form.

`clean()` runs the template rules of apps.prompts.templating, the same ones the services apply to every save
through `/v1` or the dashboard, so a problem reads the same wherever a prompt is saved. The editor adds one rule
of its own: saving the latest version again unchanged is refused (the API allows it).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.core.errors import BadRequestError
from apps.prompts.records import PromptVersion
from apps.prompts.templating import declarable, validate_template

# The submit buttons that only re-render the editor (the variable chips and "Check variables"): they save nothing.
CHIP_ACTIONS = ("declare", "undeclare", "declare_all", "check")


def normalize_newlines(text: str) -> str:
    # Browsers submit a text area's line breaks as CRLF (htmx sends LF): store what the user sees, LF.
    return text.replace("\r\n", "\n")


class TextField(forms.Field):
    """Text as typed: unlike `CharField`, no stripping and no rules of its own (the template rules are `clean()`'s)."""

    widget = forms.Textarea

    def to_python(self, value: str | None) -> str:
        return value or ""


class NameListField(forms.Field):
    """The declared variables: one hidden input per name, kept in order, each name once."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: list[str] | None) -> list[str]:
        return list(dict.fromkeys(value or []))


class PromptForm(forms.Form):
    text = TextField(required=False)
    variables = NameListField(required=False)
    message = TextField(required=False)
    make_default = forms.BooleanField(required=False)
    base_version = forms.CharField(required=False)

    def __init__(self, *args, latest: PromptVersion | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # When editing, the newest saved version: what a save builds on unless the editor says which version it
        # started from, and what an unchanged save would only repeat.
        self.latest = latest

    @staticmethod
    def initial_values(*, text: str = "", variables: list[str] | None = None, base_version: int | None = None) -> dict:
        """What a fresh editor shows: the text and variables to start from, no message, and a save that becomes
        the default."""
        return {
            "text": text,
            "variables": list(variables or []),
            "message": "",
            "make_default": True,
            "base_version": base_version,
        }

    @property
    def declaring(self) -> bool:
        """A chip button or "Check variables" was pressed: re-render the form, save nothing."""
        return any(self.data.get(action) for action in CHIP_ACTIONS)

    def clean_text(self) -> str:
        return normalize_newlines(self.cleaned_data["text"])

    def clean_message(self) -> str:
        return self.cleaned_data["message"].strip()

    def clean_base_version(self) -> int | None:
        # The version the editor started from; anything but a number means "not known", which builds on the latest.
        try:
            return int(self.cleaned_data["base_version"])
        except ValueError:
            return self.latest.version if self.latest else None

    def clean(self) -> dict:
        data = super().clean()
        data["variables"] = self._with_chip_applied(data.get("text", ""), data.get("variables", []))
        if self.declaring:
            return data
        if self._repeats_latest(data):
            raise ValidationError(
                f"Nothing to save: the text and variables are the same as version {self.latest.version}.",
                code="unchanged",
            )
        try:
            validate_template(text=data["text"], variables=data["variables"])
        except BadRequestError as exc:
            raise ValidationError(exc.message, code=exc.code or "invalid") from exc
        return data

    def _repeats_latest(self, data: dict) -> bool:
        latest = self.latest
        return (
            latest is not None
            and data.get("base_version") == latest.version
            and data.get("text") == (latest.prompt or "")
            and data.get("variables") == latest.variables
        )

    def _with_chip_applied(self, text: str, variables: list[str]) -> list[str]:
        if self.data.get("declare_all"):
            return variables + [name for name in declarable(text) if name not in variables]
        if name := self.data.get("declare"):
            return [*variables, name] if name in declarable(text) and name not in variables else variables
        if name := self.data.get("undeclare"):
            return [v for v in variables if v != name]
        return variables

    @property
    def values(self) -> dict:
        """What the editor shows again: the cleaned fields, also when the template has problems."""
        self.is_valid()  # cleans the bound form once; a template problem leaves the fields cleaned
        data = self.cleaned_data
        return {
            "text": data.get("text", ""),
            "variables": data.get("variables", []),
            "message": data.get("message", ""),
            "make_default": data.get("make_default", False),
            "base_version": data.get("base_version"),
        }

    @property
    def problem(self) -> str | None:
        """The first rule the template breaks, worded as the API words it."""
        errors = self.non_field_errors()
        return errors[0] if errors else None
