"""The dashboard's prompt editor form, and the filters of the prompt history.

`clean()` runs the validators `/v1/prompts` runs, so a problem reads the same wherever a prompt is saved: a chat
template's messages go through `PromptMessages` (the schema's own type), the model settings through
`settings_given` (`ModelSettings`), and the template rules of apps.prompts.templating through
`validate_template` / `validate_messages`. Each problem is put next to the field its `param` names. The editor adds
one rule of its own: saving the latest version again unchanged is refused (the API allows it).

The form's values are also the editor's state between requests: the buttons that declare variables or reshape a
chat template (add, remove, move a message; switch between text and chat) post the whole form and get it back
changed, without JavaScript as with it, and save nothing.
"""

from __future__ import annotations

import json
import re
from itertools import zip_longest
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from apps.core.errors import BadRequestError
from apps.core.model_settings import SETTING_NAMES, settings_given
from apps.core.validation import request_error
from apps.prompts.records import HISTORY_ACTIONS, PromptVersion
from apps.prompts.schemas import MESSAGE_ROLES, PromptMessages
from apps.prompts.selectors import HistoryFilter, validate_label, validate_prompt_id
from apps.prompts.templating import TEXT_PART_TYPES, declarable, validate_messages, validate_template
from apps.responses.models import ResponseOrigin, ResponseStatus
from apps.responses.selectors import ResponseFilter

KINDS = ("text", "chat")
MESSAGE_FORMATS = ("text", "parts")  # a message's content as typed text, or as OpenAI's content parts in JSON
VERBOSITIES = ("low", "medium", "high")
# The submit buttons that only re-render the editor: the variable chips and "Check", and the ones that reshape a
# chat template. They save nothing.
CHIP_ACTIONS = ("declare", "undeclare", "declare_all", "check")
SHAPE_ACTIONS = ("switch_kind", "add_message", "remove_message", "move_up", "move_down")
# The settings' form fields, as the editor shows them; `text` and `reasoning` are objects split over two fields.
SETTING_FIELDS = (
    "model",
    "temperature",
    "top_p",
    "max_output_tokens",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text_format",
    "verbosity",
    "reasoning_effort",
    "reasoning_summary",
    "truncation",
)
# Where a problem with a setting's sub-field is shown, when that is not the field named like the setting.
_SETTING_FIELD_OF = {
    "text.verbosity": "verbosity",
    "text": "text_format",
    "reasoning.summary": "reasoning_summary",
    "reasoning": "reasoning_effort",
}
_MESSAGES = TypeAdapter(PromptMessages)
_MESSAGE_PARAM_RE = re.compile(r"^messages\[(\d+)\]")


def normalize_newlines(text: str) -> str:
    # Browsers submit a text area's line breaks as CRLF (htmx sends LF): store what the user sees, LF.
    return text.replace("\r\n", "\n")


def field_of(param: str | None) -> str:
    """The editor field a 400's `param` names (`messages[1].content` -> `message-1`, `tools[0].name` -> `tools`),
    or "form" for a problem of the whole form."""
    if not param:
        return "form"
    if found := _MESSAGE_PARAM_RE.match(param):
        return f"message-{found.group(1)}"
    head = re.split(r"[.\[]", param, maxsplit=1)[0]
    for prefix, field in _SETTING_FIELD_OF.items():
        if param == prefix or param.startswith(prefix + "."):
            return field
    if head == "prompt":
        return "text"
    if head in ("messages", "variables", "message") or head in SETTING_NAMES:
        return head
    return "form"


# How the summary of problems above the editor names each field (and which element its link goes to).
_FIELD_LABELS = {
    "text": ("id_text", "Template"),
    "messages": ("messages-heading", "Messages"),
    "variables": ("variable-chips", "Variables"),
    "message": ("id_message", "Commit message"),
    "model": ("id_model", "Model"),
    "temperature": ("id_temperature", "Temperature"),
    "top_p": ("id_top_p", "Top p"),
    "max_output_tokens": ("id_max_output_tokens", "Max output tokens"),
    "tools": ("id_tools", "Tools"),
    "tool_choice": ("id_tool_choice", "Tool choice"),
    "parallel_tool_calls": ("id_parallel_tool_calls", "Parallel tool calls"),
    "text_format": ("id_text_format", "Text format"),
    "verbosity": ("id_verbosity", "Verbosity"),
    "reasoning_effort": ("id_reasoning_effort", "Reasoning effort"),
    "reasoning_summary": ("id_reasoning_summary", "Reasoning summary"),
    "truncation": ("id_truncation", "Truncation"),
}


def error_links(errors: dict[str, str]) -> list[dict]:
    """`{anchor, label}` of each field with a problem, in the order the problems were found."""
    links = []
    for field in errors:
        if found := re.fullmatch(r"message-(\d+)", field):
            links.append({"anchor": f"{field}-content", "label": f"Message {int(found.group(1)) + 1}"})
        elif field in _FIELD_LABELS:
            anchor, label = _FIELD_LABELS[field]
            links.append({"anchor": anchor, "label": label})
    return links


def with_error(values: dict, exc: BadRequestError) -> dict:
    """The editor's values with `exc` shown next to the field it names (a service's 400 after the form passed)."""
    return _with_errors(values, {field_of(exc.param): exc.message})


def _with_errors(values: dict, errors: dict[str, str]) -> dict:
    """`values` with `errors` by field, and each message with its own problem and, after a reshaping button, which
    of its elements (`content`, `up`, `down`) takes the keyboard focus."""
    focus = values.get("focus") or ""
    messages = [
        {
            **m,
            "error": errors.get(f"message-{i}"),
            "focus": focus.removeprefix(f"message-{i}-") if focus.startswith(f"message-{i}-") else None,
        }
        for i, m in enumerate(values["messages"])
    ]
    return {**values, "messages": messages, "errors": errors}


def template_texts(kind: str, text: str, messages: list[dict]) -> list[tuple[str, str]]:
    """`(where, text)` for every text the editor's template has: the text, or each message's (a content-parts
    message's text parts, as far as its JSON can be read)."""
    if kind != "chat":
        return [("", text)]
    texts: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"Message {index + 1}"
        if message["format"] == "text":
            texts.append((where, message["content"]))
            continue
        parts = _loads(message["content"])
        for number, part in enumerate(parts if isinstance(parts, list) else []):
            if isinstance(part, dict) and part.get("type") in TEXT_PART_TYPES and isinstance(part.get("text"), str):
                texts.append((f"{where}, part {number + 1}", part["text"]))
    return texts


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _parsed_json(text: str, param: str) -> Any:
    """`text` as JSON (None when blank), or a 400 naming `param` and where the JSON goes wrong."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequestError(
            f"Invalid value for '{param}': not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
            param=param,
        ) from None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _tool_choice_input(data: dict) -> str | dict | None:
    choice = data["tool_choice"]
    return _parsed_json(choice, "tool_choice") if choice.startswith("{") else choice or None


def _text_input(data: dict) -> dict | None:
    text = {"format": _parsed_json(data["text_format"], "text.format"), "verbosity": data["verbosity"] or None}
    return {key: value for key, value in text.items() if value is not None} or None


def _reasoning_input(data: dict) -> dict | None:
    reasoning = {"effort": data["reasoning_effort"] or None, "summary": data["reasoning_summary"] or None}
    return {key: value for key, value in reasoning.items() if value is not None} or None


# Each setting as `responses.create` takes it, from the editor's fields (numbers stay text: the validators read
# them as the API reads a JSON string, and word their problems the same way).
_SETTING_INPUTS = {
    "model": lambda data: data["model"] or None,
    "temperature": lambda data: data["temperature"] or None,
    "top_p": lambda data: data["top_p"] or None,
    "max_output_tokens": lambda data: data["max_output_tokens"] or None,
    "tools": lambda data: _parsed_json(data["tools"], "tools"),
    "tool_choice": _tool_choice_input,
    "parallel_tool_calls": lambda data: {"true": True, "false": False}.get(data["parallel_tool_calls"]),
    "text": _text_input,
    "reasoning": _reasoning_input,
    "truncation": lambda data: data["truncation"] or None,
}


# ------------------------------------------------------------------------------------------ fields
class TextField(forms.Field):
    """Text as typed: unlike `CharField`, no stripping and no rules of its own (the template rules are `clean()`'s)."""

    widget = forms.Textarea

    def to_python(self, value: str | None) -> str:
        return normalize_newlines(value or "")


class NameListField(forms.Field):
    """The declared variables: one hidden input per name, kept in order, each name once."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: list[str] | None) -> list[str]:
        return list(dict.fromkeys(value or []))


class MessagesWidget(forms.Widget):
    """A chat template as the editor posts it: per message, in order, a `message_role`, a `message_content` and a
    `message_format` (`text`, or `parts` for content parts written as JSON)."""

    def value_from_datadict(self, data, files, name) -> list[dict]:
        columns = [data.getlist(f"message_{column}") for column in ("role", "content", "format")]
        return [
            {"role": role or "", "content": content or "", "format": fmt or "text"}
            for role, content, fmt in zip_longest(*columns)
        ]


class MessagesField(forms.Field):
    widget = MessagesWidget

    def to_python(self, value: list[dict] | None) -> list[dict]:
        return [
            {
                "role": str(m["role"]),
                "content": normalize_newlines(str(m["content"])),
                "format": m["format"] if m["format"] in MESSAGE_FORMATS else "text",
            }
            for m in value or []
        ]


def _draft_message(role: str, content: str = "") -> dict:
    return {"role": role, "content": content, "format": "text"}


def _message_values(message: dict) -> dict:
    """A stored message as the editor shows it: string content as text, content parts as JSON."""
    content = message["content"]
    if isinstance(content, str):
        return _draft_message(message["role"], content)
    return {"role": message["role"], "content": json.dumps(content, indent=2, ensure_ascii=False), "format": "parts"}


def _setting_values(settings: dict) -> dict[str, str]:
    """Stored settings as the editor's fields show them: words as they are, anything else as JSON."""
    text = settings.get("text") or {}
    reasoning = settings.get("reasoning") or {}
    tools = [{k: v for k, v in tool.items() if v is not None} for tool in settings.get("tools") or []]
    plain = ("model", "temperature", "top_p", "max_output_tokens", "tool_choice", "parallel_tool_calls", "truncation")
    return {
        **{name: _field_text(settings.get(name)) for name in plain},
        "tools": _field_text(tools, indent=2),
        "text_format": _field_text(text.get("format"), indent=2),
        "verbosity": _field_text(text.get("verbosity")),
        "reasoning_effort": _field_text(reasoning.get("effort")),
        "reasoning_summary": _field_text(reasoning.get("summary")),
    }


def _field_text(value: Any, *, indent: int | None = None) -> str:
    if value is None or value == []:
        return ""
    return value if isinstance(value, str) else json.dumps(value, indent=indent, ensure_ascii=False)


# ------------------------------------------------------------------------------------------ the form
class PromptForm(forms.Form):
    kind = forms.CharField(required=False)
    text = TextField(required=False)
    messages = MessagesField(required=False)
    variables = NameListField(required=False)
    message = TextField(required=False)
    make_default = forms.BooleanField(required=False)
    base_version = forms.CharField(required=False)
    # The model settings as typed; `settings_given` reads and checks them as `/v1` does (numbers from text too).
    model = forms.CharField(required=False)
    temperature = forms.CharField(required=False)
    top_p = forms.CharField(required=False)
    max_output_tokens = forms.CharField(required=False)
    tools = TextField(required=False)
    tool_choice = forms.CharField(required=False)
    parallel_tool_calls = forms.CharField(required=False)
    text_format = TextField(required=False)
    verbosity = forms.CharField(required=False)
    reasoning_effort = forms.CharField(required=False)
    reasoning_summary = forms.CharField(required=False)
    truncation = forms.CharField(required=False)

    def __init__(self, *args, latest: PromptVersion | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # When editing, the newest saved version: what a save builds on unless the editor says which version it
        # started from, and what an unchanged save would only repeat.
        self.latest = latest
        self.problems: dict[str, str] = {}  # field -> the first problem with it, in the API's words
        self.content: dict = {}  # what the services take (text or messages, variables, settings) once valid
        self.focus: str | None = None  # the element a reshaping button leaves the keyboard focus on

    @staticmethod
    def initial_values(*, source: PromptVersion | None = None, base_version: int | None = None) -> dict:
        """What a fresh editor shows: the template, variables and settings to start from (`source`'s, if any), no
        message, and a save that becomes the default."""
        chat = source is not None and source.is_chat
        values = {
            "kind": "chat" if chat else "text",
            "text": "" if source is None or chat else source.prompt or "",
            "messages": [_message_values(m) for m in source.messages] if chat else [],
            "variables": list(source.variables) if source else [],
            "message": "",
            "make_default": True,
            "base_version": base_version,
            **_setting_values(source.settings if source else {}),
            "focus": None,
            "saving": False,
        }
        return _with_errors(values, {})

    @property
    def declaring(self) -> bool:
        """A chip, "Check" or a reshaping button was pressed: re-render the form, save nothing."""
        return any(self.data.get(action) for action in (*CHIP_ACTIONS, *SHAPE_ACTIONS))

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] if self.cleaned_data["kind"] in KINDS else "text"

    def clean_message(self) -> str:
        return self.cleaned_data["message"].strip()

    def clean_base_version(self) -> int | None:
        # The version the editor started from; anything but a number means "not known", which builds on the latest.
        return _int(self.cleaned_data["base_version"]) or (self.latest.version if self.latest else None)

    def clean(self) -> dict:
        data = super().clean()
        self._apply_shape(data)
        texts = template_texts(data["kind"], data["text"], data["messages"])
        data["variables"] = self._with_chip_applied(texts, data.get("variables", []))
        messages = self._checked(self._messages, data) if data["kind"] == "chat" else None
        settings = self._settings(data)
        if self.declaring or self.problems:
            return self._done(data)
        text = None if data["kind"] == "chat" else data["text"]
        try:
            if messages is None:
                validate_template(text=text, variables=data["variables"])
            else:
                validate_messages(messages=messages, variables=data["variables"])
        except BadRequestError as exc:
            self.problems[field_of(exc.param)] = exc.message
            return self._done(data)
        self.content = {"text": text, "messages": messages, "variables": data["variables"], "settings": settings}
        if self._repeats_latest(data["kind"], self.content):
            kind = "messages" if messages is not None else "text"
            self.problems["form"] = (
                f"Nothing to save: the {kind}, variables and settings are the same as version {self.latest.version}."
            )
        return self._done(data)

    def _done(self, data: dict) -> dict:
        if self.problems and not self.declaring:
            # One error makes the form invalid; `problems` says where each one goes.
            raise ValidationError(next(iter(self.problems.values())), code="invalid")
        return data

    def _checked(self, check, data: dict):
        """`check(data)`, or None with its problem noted next to the field it names."""
        try:
            return check(data)
        except BadRequestError as exc:
            self.problems.setdefault(field_of(exc.param), exc.message)
            return None

    # ---------------------------------------------------------------- the chat template
    def _messages(self, data: dict) -> list[dict]:
        """The chat template through the schema's own validator (`PromptMessages`), as `/v1/prompts` stores it."""
        given = []
        for index, message in enumerate(data["messages"]):
            content = message["content"]
            if message["format"] == "parts":
                content = _parsed_json(content, f"messages[{index}].content")
            given.append({"role": message["role"], "content": content})
        try:
            return _MESSAGES.validate_python(given)
        except PydanticValidationError as exc:
            errors = [{**e, "loc": ("messages", *e["loc"])} for e in exc.errors(include_url=False)]
            raise request_error(errors, located=False) from None

    def _apply_shape(self, data: dict) -> None:
        """Apply a reshaping button: switch between text and chat, or add, remove or move a message."""
        wanted = self.data.get("switch_kind")
        if wanted in KINDS and wanted != data["kind"]:
            self._switch_kind(data, wanted)
        elif data["kind"] == "chat":
            self._reshape(data["messages"])

    def _reshape(self, messages: list[dict]) -> None:
        if role := self.data.get("add_message"):
            messages.append(_draft_message(role if role in MESSAGE_ROLES else "user"))
            self.focus = f"message-{len(messages) - 1}-content"
            return
        removed = _int(self.data.get("remove_message"))
        if removed is not None and 0 <= removed < len(messages):
            del messages[removed]
            self.focus = f"message-{min(removed, len(messages) - 1)}-content" if messages else "add-message"
            return
        for direction, step in (("up", -1), ("down", 1)):
            index = _int(self.data.get(f"move_{direction}"))
            if index is not None and 0 <= min(index, index + step) and max(index, index + step) < len(messages):
                to = index + step
                messages[index], messages[to] = messages[to], messages[index]
                # The focus stays on the button that moved the message, or goes to its other one at an end.
                shown = {"up": to > 0, "down": to < len(messages) - 1}
                self.focus = f"message-{to}-{direction if shown[direction] else ('down' if step < 0 else 'up')}"
                return

    def _switch_kind(self, data: dict, wanted: str) -> None:
        if wanted == "chat":
            text = data["text"]
            # A text prompt is sent as a system message: that is where its text goes.
            start = [_draft_message("system", text)] if text.strip() else []
            data["messages"] = start or [_draft_message("system"), _draft_message("user")]
            self.focus = "message-0-content"
        else:
            data["text"] = "\n\n".join(text for _, text in template_texts("chat", "", data["messages"]) if text.strip())
            self.focus = "id_text"
        data["kind"] = wanted

    # ---------------------------------------------------------------- variables
    def _with_chip_applied(self, texts: list[tuple[str, str]], variables: list[str]) -> list[str]:
        usable = list(dict.fromkeys(name for _, text in texts for name in declarable(text)))
        if self.data.get("declare_all"):
            return variables + [name for name in usable if name not in variables]
        if name := self.data.get("declare"):
            return [*variables, name] if name in usable and name not in variables else variables
        if name := self.data.get("undeclare"):
            return [v for v in variables if v != name]
        return variables

    # ---------------------------------------------------------------- settings
    def _settings(self, data: dict) -> dict | None:
        """The model settings through `settings_given`, as `/v1/prompts` checks and stores them: each one on its
        own first, so that every field with a problem is marked at once, then together (`tool_choice` must name
        one of the `tools`)."""
        given = {}
        for name, read in _SETTING_INPUTS.items():
            try:
                value = read(data)
                # `tool_choice` names one of the `tools` (read just before it): it is checked with them.
                settings_given({name: value, **({"tools": given.get("tools")} if name == "tool_choice" else {})})
            except BadRequestError as exc:
                if name != "tool_choice" or "tools" in given:  # with bad tools, a tool choice cannot be judged
                    self.problems.setdefault(field_of(exc.param), exc.message)
                continue
            given[name] = value
        if len(given) < len(_SETTING_INPUTS):
            return None
        return settings_given(given)

    def _repeats_latest(self, kind: str, content: dict) -> bool:
        latest = self.latest
        return (
            latest is not None
            and self.cleaned_data.get("base_version") == latest.version
            and (kind == "chat") == latest.is_chat
            and (content["messages"] == latest.messages if latest.is_chat else content["text"] == latest.prompt)
            and content["variables"] == latest.variables
            and content["settings"] == latest.settings
        )

    # ---------------------------------------------------------------- what the editor shows
    @property
    def values(self) -> dict:
        """What the editor shows again: the cleaned fields, also when some have problems (each next to its field)."""
        self.is_valid()  # cleans the bound form once; a problem leaves the fields cleaned
        data = self.cleaned_data
        values = {
            "kind": data.get("kind", "text"),
            "text": data.get("text", ""),
            "messages": data.get("messages", []),
            "variables": data.get("variables", []),
            "message": data.get("message", ""),
            "make_default": data.get("make_default", False),
            "base_version": data.get("base_version"),
            **{name: data.get(name, "") for name in SETTING_FIELDS},
            "focus": self.focus,
            "saving": not self.declaring,  # a save was asked for (not a chip or a reshaping button)
        }
        return _with_errors(values, dict(self.problems))

    @property
    def problem(self) -> str | None:
        """The first problem, worded as the API words it."""
        self.is_valid()
        return next(iter(self.problems.values()), None)


# ------------------------------------------------------------------------------------------ history filters
class HistoryFilterForm(forms.Form):
    """The filters of the Activity page and of the admin's prompt history: GET parameters, checked by the rules
    `/v1/prompts/history` applies (actions, label names, prompt ids). Times are UTC, as the pages show them."""

    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *((a, a) for a in HISTORY_ACTIONS)])
    label = forms.CharField(required=False, max_length=36, strip=True)
    actor = forms.CharField(required=False, max_length=150, strip=True)
    since = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d"])
    until = forms.DateTimeField(required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d"])
    prompt = forms.CharField(required=False, max_length=53, strip=True)

    def clean_label(self) -> str:
        return _checked(self.cleaned_data["label"], validate_label)

    def clean_prompt(self) -> str:
        return _checked(self.cleaned_data["prompt"], validate_prompt_id)

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until <= since:
            self.add_error("until", "'Until' must be after 'From'.")
        return data

    def filters(self) -> HistoryFilter:
        """The filters of a valid form."""
        data = self.cleaned_data
        return HistoryFilter(
            action=data["action"] or None,
            label=data["label"] or None,
            actor=data["actor"] or None,
            since=data["since"].timestamp() if data["since"] else None,
            until=data["until"].timestamp() if data["until"] else None,
            prompt_id=data["prompt"] or None,
        )


def _checked(value: str, validator) -> str:
    """`value` if `validator` (a `/v1` rule, raising a 400) accepts it; its message as the field's error if not."""
    if value:
        try:
            validator(value)
        except BadRequestError as exc:
            raise ValidationError(exc.message) from exc
    return value


# ------------------------------------------------------------------------------------------ import
ON_CONFLICT_CHOICES = (
    ("new-version", "Add the imported versions as new versions"),
    ("skip", "Skip the prompt"),
    ("fail", "Import nothing"),
)


class ImportForm(forms.Form):
    """The Import page: an archive (any file: apps.prompts.transfer.read_archives detects its format or says why
    it cannot), what to do with a prompt that exists with different content, whether invalid prompts are skipped,
    and which button was pressed (a dry run, or the import)."""

    archive = forms.FileField(
        error_messages={"required": "Choose a file to import.", "empty": "The file is empty."},
        allow_empty_file=False,
    )
    on_conflict = forms.ChoiceField(choices=ON_CONFLICT_CHOICES, initial="new-version")
    skip_invalid = forms.BooleanField(required=False)
    action = forms.ChoiceField(required=False, choices=(("preview", "Preview"), ("import", "Import")))

    @property
    def dry_run(self) -> bool:
        return self.cleaned_data.get("action") != "import"


class AdminImportForm(ImportForm):
    """An operator may keep the owners the archive names (as the command does), or own the new prompts."""

    keep_owners = forms.BooleanField(required=False, initial=True)


# ------------------------------------------------------------------------------------------ replay
REPLAY_WINDOWS = {
    "1h": ("Last hour", 1),
    "24h": ("Last 24 hours", 24),
    "7d": ("Last 7 days", 24 * 7),
    "30d": ("Last 30 days", 24 * 30),
    "all": ("Any time", None),
}


class ReplayForm(forms.Form):
    """A replay against a candidate: the source (`v3` or `label:production`), the time window, an optional sample
    size, the candidate version and an optional model. Whether the candidate and the model exist, and how many
    responses match, is the service's to say (apps.responses.replay)."""

    source = forms.CharField(max_length=80)
    window = forms.ChoiceField(choices=[(key, label) for key, (label, _) in REPLAY_WINDOWS.items()], initial="7d")
    sample = forms.IntegerField(required=False, min_value=1)
    candidate = forms.IntegerField(min_value=1)
    model = forms.CharField(required=False, max_length=255)

    def clean_source(self) -> tuple[int | None, str]:
        """(version, label): `v<number>` or `label:<name>`."""
        source = self.cleaned_data["source"].strip()
        if source.startswith("label:") and source != "label:":
            return None, _checked(source.removeprefix("label:"), validate_label)
        if re.fullmatch(r"v[1-9][0-9]{0,8}", source):
            return int(source[1:]), ""
        raise ValidationError("Choose a version (v3) or a label (label:production) to replay.")


class ResponseFilterForm(forms.Form):
    """The filters of the dashboard's list of stored responses: GET parameters, a prompt id checked by the rule
    `/v1/prompts` applies."""

    prompt = forms.CharField(required=False, max_length=53, strip=True)
    version = forms.IntegerField(required=False, min_value=1)
    model = forms.CharField(required=False, max_length=255, strip=True)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ResponseStatus.choices])
    origin = forms.ChoiceField(
        required=False,
        choices=[("", "Anywhere"), (ResponseOrigin.API, "API"), (ResponseOrigin.PLAYGROUND, "Playground")],
    )
    tools = forms.ChoiceField(
        required=False, choices=[("", "With or without"), ("yes", "With tool calls"), ("no", "Without tool calls")]
    )

    def clean_prompt(self) -> str:
        return _checked(self.cleaned_data["prompt"], validate_prompt_id)

    def filters(self) -> ResponseFilter:
        """The filters of a valid form."""
        data = self.cleaned_data
        return ResponseFilter(
            prompt_id=data["prompt"],
            prompt_version=data["version"],
            model=data["model"],
            status=data["status"],
            origin=data["origin"],
            tool_calls={"yes": True, "no": False}.get(data["tools"]),
        )
