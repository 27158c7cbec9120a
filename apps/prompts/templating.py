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
from dataclasses import dataclass, replace

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
    where: str = ""  # which text of several it is in (a chat template's "Message 2"); empty for a single text


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
    return texts_report([("", text)], declared)


def texts_report(texts: list[tuple[str, str]], declared: list[str]) -> TemplateReport:
    """`template_report` over several `(where, text)` (a chat template's messages): one set of chips for all of
    them, as one `variables` list serves them all, and each malformed placeholder labelled with its `where`."""
    placeholders: dict[str, None] = {}
    malformed: list[Malformed] = []
    for where, text in texts:
        analysis = analyze_template(text)
        placeholders.update(dict.fromkeys(analysis.placeholders))
        malformed += [replace(problem, where=where) for problem in analysis.malformed]
    declared = [name for name in dict.fromkeys(declared) if valid_name(name)]
    known = set(declared)
    chips: list[VariableChip] = []
    for name in placeholders:
        if not valid_name(name):
            chips.append(VariableChip(name, "invalid"))
        else:
            chips.append(VariableChip(name, "declared" if name in known else "undeclared"))
    chips += [VariableChip(name, "unused") for name in declared if name not in placeholders]
    return TemplateReport(chips=chips, malformed=malformed, declared=declared)


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


def _check_placeholders(texts: list[tuple[str, str]], declared: list[str]) -> None:
    """Every `{{` in each `(param, text)` opens a valid placeholder, and every name used is declared."""
    used: dict[str, None] = {}
    for param, text in texts:
        analysis = analyze_template(text)
        if analysis.malformed:
            first = analysis.malformed[0]
            raise BadRequestError(
                f"Invalid value for '{param}': malformed placeholder {first.snippet!r} at character "
                f"{first.position}; placeholders look like {{{{ name }}}} with a name of letters, digits and "
                "underscores.",
                param=param,
                code="invalid_placeholder",
            )
        invalid = [name for name in analysis.placeholders if not VARIABLE_NAME_RE.match(name)]
        if invalid:
            raise BadRequestError(
                f"Invalid value for '{param}': placeholder {{{{ {invalid[0]} }}}} uses an invalid variable name; "
                "names are letters, digits and underscores, not starting with a digit.",
                param=param,
                code="invalid_placeholder",
            )
        used.update(dict.fromkeys(analysis.placeholders))
    undeclared = sorted(name for name in used if name not in set(declared))
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
    _check_placeholders([("prompt", text)], declared)
    return declared


# ------------------------------------------------------------------------------------------ chat templates
# A chat template is a list of messages `{role, content}` (their shape is `apps.prompts.schemas.PromptMessage`'s
# to check); placeholders may stand in any text: a string content, or the text of an input_text/output_text part.
TEXT_PART_TYPES = ("input_text", "output_text")
MEDIA_PART_TYPES = ("input_image", "input_file")


def message_texts(messages: list[dict]) -> list[tuple[str, str]]:
    """`(param, text)` for every text of a chat template, in reading order (`messages[1].content[0].text`)."""
    texts: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        content = message["content"]
        if isinstance(content, str):
            texts.append((f"messages[{index}].content", content))
            continue
        for number, part in enumerate(content):
            if part["type"] in TEXT_PART_TYPES:
                texts.append((f"messages[{index}].content[{number}].text", part["text"]))
    return texts


def part_label(part: dict) -> str:
    """A content part as text: a text part's text, or a label standing for an image or a file."""
    if part["type"] in TEXT_PART_TYPES:
        return part["text"]
    if part["type"] == "input_image":
        return "[image]"
    return f"[file: {part.get('filename') or part.get('file_id') or 'inline'}]"


def message_body(message: dict) -> str:
    """A message's content as text (its parts one a line)."""
    content = message["content"]
    return content if isinstance(content, str) else "\n".join(part_label(part) for part in content)


def messages_text(messages: list[dict]) -> str:
    """A chat template as one text, each message under its role: what a llama-stack client shows as the version's
    `prompt`, and what search and the list's excerpt read."""
    return "\n\n".join(f"[{message['role']}]\n{message_body(message)}" for message in messages)


def validate_messages(*, messages: list[dict], variables: object) -> list[str]:
    """`validate_template` for a chat template: the same placeholder rules in every text, the same limit on all
    of them together. Returns the declared variables."""
    declared = _check_variables(variables)
    texts = message_texts(messages)
    total = sum(len(text) for _, text in texts)
    if total > MAX_PROMPT_CHARS:
        raise BadRequestError(
            f"Invalid value for 'messages': {total} characters of text is over the limit of {MAX_PROMPT_CHARS}.",
            param="messages",
            code="string_above_max_length",
        )
    _check_placeholders(texts, declared)
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


def render(text: str, values: Mapping[str, str | Mapping]) -> Rendering:
    """`text` with `values` substituted. A placeholder without a value stays as written and is reported, so a
    preview can mark it; a caller that needs every value checks `missing` (or the declared variables) itself.
    A value that is not a string (an image or a file part) cannot be written into text: see `render_message`."""
    text = text or ""
    parts: list[Part] = []
    missing: dict[str, None] = {}
    position = 0
    for match in PLACEHOLDER_RE.finditer(text):
        if match.start() > position:
            parts.append(Part("text", text[position : match.start()]))
        name = match.group(1)
        if isinstance(values.get(name), str):
            parts.append(Part("value", values[name], name))
        else:
            missing.setdefault(name)
            parts.append(Part("missing", match.group(0), name))
        position = match.end()
    if position < len(text):
        parts.append(Part("text", text[position:]))
    return Rendering(parts=parts, missing=list(missing), text="".join(p.text for p in parts))


@dataclass(frozen=True)
class RenderedMessage:
    message: dict  # an input item: {"type": "message", "role", "content": [parts]}
    missing: list[str]
    media: list[str]  # variables whose value (an image or a file) stands as a part of its own


def _render_into(parts: list[dict], text: str, kind: str, values: Mapping, media: dict, missing: dict) -> None:
    pending: list[str] = []

    def flush() -> None:
        if pending:
            parts.append({"type": kind, "text": "".join(pending)})
            pending.clear()

    for piece in render(text, values).parts:
        value = values.get(piece.name) if piece.kind == "missing" else None
        if isinstance(value, Mapping):  # an image or a file: a part of its own, where its placeholder stood
            flush()
            parts.append(dict(value))
            media.setdefault(piece.name)
            continue
        if piece.kind == "missing":
            missing.setdefault(piece.name)
        pending.append(piece.text)
    flush()


def render_message(message: dict, values: Mapping[str, str | Mapping]) -> RenderedMessage:
    """One message of a chat template with `values` substituted, as a Responses input item. String values are
    written into the text; a content-part value (`input_image`, `input_file`) takes its placeholder's place as a
    part of its own (whether the message's role can hold it is the caller's to check, from `media`)."""
    role = message["role"]
    content = message["content"]
    kind = "output_text" if role == "assistant" else "input_text"
    parts: list[dict] = []
    media: dict[str, None] = {}
    missing: dict[str, None] = {}
    for part in [{"type": kind, "text": content}] if isinstance(content, str) else content:
        if part["type"] in TEXT_PART_TYPES:
            _render_into(parts, part["text"], part["type"], values, media, missing)
        else:
            parts.append(dict(part))
    return RenderedMessage({"type": "message", "role": role, "content": parts}, list(missing), list(media))
