"""The prompt template language, in one place: its grammar, the rules a saved template meets, and rendering.

A placeholder is `{{ name }}`: two opening braces, optional spaces, a name of word characters, optional spaces,
two closing braces. Every other `{{` is malformed. A placeholder can only be filled when its name is also a valid
variable name (letters, digits and underscores, not starting with a digit, at most 64 characters) declared in
the version's `variables`.

Everything that reads templates goes through this module: the services' save-time checks (which the `/v1`
Prompts API and the dashboard's form both run), the editor's report of what a text declares and uses, and
rendering, where one renderer yields parts so that the dashboard preview's marked values and the text the
Responses API sends come from the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from apps.core.errors import BadRequestError

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_OPENING_RE = re.compile(r"\{\{(.*?)(?:\}\}|$)", re.DOTALL)
VARIABLE_NAME_RE = re.compile(r"^[^\W\d]\w*$")

MAX_PROMPT_CHARS = 200_000
MAX_VARIABLES = 100
MAX_VARIABLE_NAME_CHARS = 64


# ------------------------------------------------------------------------------------------ analysis
@dataclass(frozen=True)
class Malformed:
    """A `{{` that opens no valid placeholder: where it is (as an offset, and as the editor shows it, 1-based line
    and column) and how it starts."""

    position: int
    line: int
    column: int
    snippet: str


@dataclass(frozen=True)
class TemplateAnalysis:
    placeholders: list[str]  # distinct names, in order of first use
    malformed: list[Malformed]

    def undeclared(self, declared: list[str]) -> list[str]:
        known = set(declared)
        return sorted({name for name in self.placeholders if name not in known})


def _malformed(text: str, position: int, snippet: str) -> Malformed:
    line_start = text.rfind("\n", 0, position) + 1
    shown = snippet if len(snippet) <= 40 else snippet[:37] + "..."
    return Malformed(position, text.count("\n", 0, position) + 1, position - line_start + 1, shown)


def analyze_template(text: str) -> TemplateAnalysis:
    """Find `{{ name }}` placeholders, and every `{{` that does not open a valid one."""
    text = text or ""
    names: dict[str, None] = {}
    malformed: list[Malformed] = []
    for match in _OPENING_RE.finditer(text):
        inner = match.group(1)
        closed = match.group(0).endswith("}}")
        name = inner.strip()
        if closed and re.fullmatch(r"\w+", name):
            names.setdefault(name)
        else:
            malformed.append(_malformed(text, match.start(), match.group(0)))
    return TemplateAnalysis(placeholders=list(names), malformed=malformed)


def valid_name(name: str) -> bool:
    """Whether `name` can be declared as a variable."""
    return len(name) <= MAX_VARIABLE_NAME_CHARS and bool(VARIABLE_NAME_RE.match(name))


def declarable(text: str) -> list[str]:
    """Placeholder names in `text` that could be declared as variables."""
    return [name for name in analyze_template(text or "").placeholders if valid_name(name)]


# ------------------------------------------------------------------------------------------ the editor's report
@dataclass(frozen=True)
class VariableChip:
    name: str
    state: str  # "declared" (used and declared), "undeclared" (used, not declared), "unused", "invalid"


@dataclass(frozen=True)
class TemplateReport:
    chips: list[VariableChip]
    malformed: list[Malformed]
    declared: list[str]  # the declared variables after dropping names that are not valid variable names

    @property
    def undeclared(self) -> list[str]:
        return [c.name for c in self.chips if c.state == "undeclared"]

    @property
    def to_fix(self) -> int:
        """Placeholders that must be rewritten (declaring cannot help): malformed ones and invalid names."""
        return len(self.malformed) + sum(1 for c in self.chips if c.state == "invalid")

    @property
    def problems(self) -> int:
        return self.to_fix + len(self.undeclared)


def template_report(text: str, declared: list[str]) -> TemplateReport:
    """Placeholders found in `text` against the declared variables, in the order a reader meets them.

    The save-time rules below reject malformed placeholders and undeclared names; this says so while typing.
    """
    analysis = analyze_template(text)
    declared = [name for name in dict.fromkeys(declared) if valid_name(name)]
    known = set(declared)
    chips: list[VariableChip] = []
    for name in analysis.placeholders:
        if not valid_name(name):
            chips.append(VariableChip(name, "invalid"))
        else:
            chips.append(VariableChip(name, "declared" if name in known else "undeclared"))
    used = set(analysis.placeholders)
    chips += [VariableChip(name, "unused") for name in declared if name not in used]
    return TemplateReport(chips=chips, malformed=analysis.malformed, declared=declared)


# ------------------------------------------------------------------------------------------ rules
def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise BadRequestError("Invalid value for 'prompt': expected a string.", param="prompt")
    if not text.strip():
        raise BadRequestError("Invalid value for 'prompt': the prompt text is empty.", param="prompt")
    if len(text) > MAX_PROMPT_CHARS:
        raise BadRequestError(
            f"Invalid value for 'prompt': {len(text)} characters is over the limit of {MAX_PROMPT_CHARS}.",
            param="prompt",
            code="string_above_max_length",
        )
    return text


def _check_variables(variables: object) -> list[str]:
    if variables is None:
        return []
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise BadRequestError("Invalid value for 'variables': expected a list of strings.", param="variables")
    if len(variables) > MAX_VARIABLES:
        raise BadRequestError(f"Invalid value for 'variables': at most {MAX_VARIABLES} variables.", param="variables")
    for name in variables:
        if not valid_name(name):
            raise BadRequestError(
                f"Invalid value for 'variables': {name!r} is not a valid variable name (letters, digits and "
                f"underscores, not starting with a digit, at most {MAX_VARIABLE_NAME_CHARS} characters).",
                param="variables",
            )
    return list(dict.fromkeys(variables))


def _check_placeholders(text: str, declared: list[str]) -> None:
    analysis = analyze_template(text)
    if analysis.malformed:
        first = analysis.malformed[0]
        raise BadRequestError(
            f"Invalid value for 'prompt': malformed placeholder {first.snippet!r} at character {first.position}; "
            "placeholders look like {{ name }} with a name of letters, digits and underscores.",
            param="prompt",
            code="invalid_placeholder",
        )
    invalid = [name for name in analysis.placeholders if not VARIABLE_NAME_RE.match(name)]
    if invalid:
        raise BadRequestError(
            f"Invalid value for 'prompt': placeholder {{{{ {invalid[0]} }}}} uses an invalid variable name; names "
            "are letters, digits and underscores, not starting with a digit.",
            param="prompt",
            code="invalid_placeholder",
        )
    undeclared = analysis.undeclared(declared)
    if undeclared:
        raise BadRequestError(
            f"Prompt contains undeclared variables: {undeclared}. Declare them in 'variables'.",
            param="variables",
            code="undeclared_variables",
        )


def validate_template(*, text: object, variables: object) -> list[str]:
    """Check the text and declared variables of a version about to be saved; returns the variables,
    de-duplicated in their given order. The first problem is a 400 naming `prompt` or `variables`."""
    text = _check_text(text)
    declared = _check_variables(variables)
    _check_placeholders(text, declared)
    return declared


# ------------------------------------------------------------------------------------------ rendering
@dataclass(frozen=True)
class Part:
    kind: str  # "text", "value" (a filled placeholder) or "missing" (a placeholder left as written)
    text: str
    name: str | None = None


@dataclass(frozen=True)
class Rendering:
    parts: list[Part]
    missing: list[str]  # placeholders without a value, in order of first use
    text: str  # the parts joined: what a model is sent

    @property
    def characters(self) -> int:
        return len(self.text)


def render(text: str, values: Mapping[str, str]) -> Rendering:
    """`text` with `values` substituted. A placeholder without a value stays as written and is reported, so a
    preview can mark it; a caller that needs every value checks `missing` (or the declared variables) itself."""
    text = text or ""
    parts: list[Part] = []
    missing: dict[str, None] = {}
    position = 0
    for match in PLACEHOLDER_RE.finditer(text):
        if match.start() > position:
            parts.append(Part("text", text[position : match.start()]))
        name = match.group(1)
        if name in values:
            parts.append(Part("value", values[name], name))
        else:
            missing.setdefault(name)
            parts.append(Part("missing", match.group(0), name))
        position = match.end()
    if position < len(text):
        parts.append(Part("text", text[position:]))
    return Rendering(parts=parts, missing=list(missing), text="".join(p.text for p in parts))
