"""Public contracts of the Prompts API: llama-stack's shapes, plus stackadmin's optional extras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, Field

from apps.core.errors import BadRequestError
from apps.core.model_settings import StoredModelSettings
from apps.core.schemas import documented, id_pattern, page_size
from apps.core.validation import invalid, missing
from apps.files.selectors import validate_file_id
from apps.prompts.keys import PROMPT_ID_RE
from apps.prompts.records import HISTORY_ACTIONS

MAX_PAGE_SIZE = 1000  # a listing with paging parameters (the selector checks it)

PromptId = documented(str, **id_pattern(PROMPT_ID_RE, "'pmpt_' followed by 48 lowercase hex characters."))
PageSize = documented(int | None, **page_size(MAX_PAGE_SIZE))
VersionNumber = documented(int | None, type="integer", minimum=1)


# ------------------------------------------------------------------------------------------ chat templates
MAX_MESSAGES = 100
MESSAGE_ROLES = ("system", "developer", "user", "assistant")
# What each role's content may hold besides a string: the parts OpenAI's input messages take in that role.
_PARTS_BY_ROLE = {
    "system": ("input_text",),
    "developer": ("input_text",),
    "user": ("input_text", "input_image", "input_file"),
    "assistant": ("output_text", "input_text"),
}
_PART_FIELDS = {
    "input_text": {"type", "text"},
    "output_text": {"type", "text", "annotations"},
    "input_image": {"type", "image_url", "file_id", "detail"},
    "input_file": {"type", "file_id", "file_data", "filename"},
}


def _text_part(part: Mapping, at: tuple) -> None:
    if not isinstance(part.get("text"), str):
        raise invalid("expected a string", at=(*at, "text")) if "text" in part else missing(at=(*at, "text"))


def _source(part: Mapping, at: tuple, sources: tuple[str, ...]) -> None:
    given = [name for name in sources if part.get(name) is not None]
    if len(given) != 1:
        raise invalid(f"give exactly one of {', '.join(sources)}", at=at)
    value = part[given[0]]
    if not isinstance(value, str) or not value:
        raise invalid("expected a non-empty string", at=(*at, given[0]))
    if given[0] == "file_id":
        try:
            validate_file_id(value)
        except BadRequestError:
            raise invalid(
                f"{value!r}; file ids are 'file-' followed by 32 hex characters", at=(*at, "file_id")
            ) from None
    if part.get("detail") not in (None, "low", "high", "auto"):
        raise invalid(f"{part['detail']!r}; expected low, high or auto", at=(*at, "detail"))
    if part.get("filename") is not None and not isinstance(part["filename"], str):
        raise invalid("expected a string", at=(*at, "filename"))


def _content_part(part: Any, role: str, at: tuple) -> dict:
    if not isinstance(part, Mapping):
        raise invalid("expected a content part object", at=at)
    kind = part.get("type")
    if kind not in _PART_FIELDS:
        raise invalid(f"{kind!r}; expected input_text, output_text, input_image or input_file", at=(*at, "type"))
    if kind not in _PARTS_BY_ROLE[role]:
        raise invalid(
            f"{role} messages cannot hold {kind} parts (they take {', '.join(_PARTS_BY_ROLE[role])})",
            at=(*at, "type"),
        )
    unknown = sorted(set(part) - _PART_FIELDS[kind])
    if unknown:
        raise invalid(f"{unknown[0]!r} is not a field of an {kind} part", at=(*at, unknown[0]))
    if kind in ("input_text", "output_text"):
        _text_part(part, at)
    elif kind == "input_image":
        _source(part, at, ("image_url", "file_id"))
    else:
        _source(part, at, ("file_id", "file_data"))
    return {name: value for name, value in part.items() if value is not None}


def _message(value: Any) -> Any:
    """A chat template message: `{role, content}` (OpenAI's `type: "message"` allowed), content a string or the
    parts its role can hold. Stored as `{role, content}`."""
    if not isinstance(value, Mapping):
        raise invalid("expected a message object {role, content}")
    unknown = sorted(set(value) - {"type", "role", "content"})
    if unknown:
        raise invalid(f"{unknown[0]!r} is not a field of a message", at=(unknown[0],))
    if value.get("type", "message") != "message":
        raise invalid(f"{value['type']!r}; a prompt's messages are of type 'message'", at=("type",))
    role = value.get("role")
    if role not in MESSAGE_ROLES:
        if role is None:
            raise missing(at=("role",))
        raise invalid(f"{role!r}; expected one of {', '.join(MESSAGE_ROLES)}", at=("role",))
    content = value.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if content is None:
        raise missing(at=("content",))
    if not isinstance(content, list) or not content:
        raise invalid("expected a string or a non-empty array of content parts", at=("content",))
    return {"role": role, "content": [_content_part(p, role, ("content", i)) for i, p in enumerate(content)]}


PromptMessage = Annotated[
    dict[str, Any],
    BeforeValidator(_message),
    Field(
        description="{role: system | developer | user | assistant, content: a string or content parts (input_text; "
        "input_image and input_file in user messages; output_text in assistant messages)}; {{ name }} placeholders "
        "may stand in any text.",
    ),
]
PromptMessages = Annotated[list[PromptMessage], Field(min_length=1, max_length=MAX_MESSAGES)]


class VersionContent(StoredModelSettings):
    """What a version holds besides its number: llama-stack's text or a chat template, variables, model settings.

    Unknown fields are ignored, as llama-stack's Prompts API ignores them."""

    prompt: str | None = Field(None, description="The template text, with {{ name }} placeholders.")
    messages: PromptMessages | None = Field(
        None, description="A chat template, instead of `prompt`: messages in order (extension)."
    )
    variables: list[str] | None = Field(None, description="The variables the template uses; null means none.")
    message: str | None = Field(None, description="Optional commit message for the version (extension).")


class Prompt(Schema):
    prompt: str | None = Field(
        description="The template text, with {{ name }} placeholders; for a chat template, its messages as text."
    )
    version: int = Field(ge=1)
    prompt_id: str = Field(description="'pmpt_' followed by 48 lowercase hex characters.")
    variables: list[str] = Field(default_factory=list)
    is_default: bool = Field(description="True when this version is the prompt's default version.")
    created_at: int | None = Field(None, description="Unix seconds when this version was written (extension).")
    created_by: str | None = Field(None, description="Who wrote this version, when known (extension).")
    message: str | None = Field(None, description="Commit message of this version (extension).")
    labels: list[str] = Field(
        default_factory=list, description="The labels pointing at this version, 'default' included (extension)."
    )
    messages: list[dict[str, Any]] | None = Field(None, description="The chat template, if any (extension).")
    # The version's model settings (extension), as `responses.create` takes them; null when not set.
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: str | None = None


class ListPromptsResponse(Schema):
    data: list[Prompt]
    object: Literal["list"] | None = Field(None, description="Present when paging parameters are given.")
    has_more: bool | None = None
    first_id: str | None = None
    last_id: str | None = None


class CreatePromptRequest(VersionContent):
    """Version 1: `prompt` text or `messages`, with optional variables and model settings."""


class UpdatePromptRequest(VersionContent):
    """A new version: its whole content (nothing is inherited from the previous version)."""

    version: int = Field(description="The latest version number you saw; anything else is a 409.")
    set_as_default: bool = True


class SetDefaultVersionRequest(Schema):
    version: int
    message: str | None = Field(None, description="Why (kept in the prompt's history; extension).")


Label = documented(
    str,
    type="string",
    pattern=r"^[a-z0-9][a-z0-9_.-]{0,35}$",
    description="A label: 1-36 lowercase letters, digits, '_', '.' or '-'. 'default' is the default version; "
    "'latest' (the newest version) is computed and cannot be moved.",
)


class PromptLabel(Schema):
    object: Literal["prompt.label"] = "prompt.label"
    prompt_id: str
    label: str
    version: int
    protected: bool = Field(description="Moving it needs the access policy's 'promote' action.")
    computed: bool = Field(description="True for 'latest', which follows the newest version.")


class PromptLabelList(Schema):
    object: Literal["list"] = "list"
    data: list[PromptLabel]


class MoveLabelRequest(Schema):
    version: int = Field(ge=1, description="The version the label will point at.")
    message: str | None = Field(None, description="Why (kept in the prompt's history).")


class LabelDeleted(Schema):
    object: Literal["prompt.label.deleted"] = "prompt.label.deleted"
    prompt_id: str
    label: str
    deleted: bool = True


class VersionDeleted(Schema):
    object: Literal["prompt.version.deleted"] = "prompt.version.deleted"
    prompt_id: str
    version: int
    deleted: bool = True


HISTORY_ACTION = Literal[HISTORY_ACTIONS]  # the actions apps.prompts.records defines


class PromptHistoryEntry(Schema):
    id: str
    object: Literal["prompt.history_entry"] = "prompt.history_entry"
    prompt_id: str
    action: HISTORY_ACTION
    actor: str | None = Field(description="Who (a user name); null for an anonymous caller.")
    via: str | None = Field(description="How: 'api key sk-sa-…', 'dashboard' or 'admin'.")
    created_at: int
    version: int | None = None
    from_version: int | None = None
    label: str | None = None
    message: str | None = None


class PromptHistory(Schema):
    object: Literal["list"] = "list"
    data: list[PromptHistoryEntry]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


HistoryPageSize = documented(int, type="integer", minimum=1, maximum=100)


# ------------------------------------------------------------------------------------------ usage
class VersionUsage(Schema):
    version: int
    requests: int = Field(
        description="Stored responses made with this version, and stored chat completions naming it in their metadata."
    )
    chat_completions: int = Field(description="Of them, chat completions.")
    errors: int = Field(description="Of them, failed.")
    incomplete: int = Field(description="Of them, incomplete (an output limit or a content filter).")
    input_tokens: int = Field(description="Total over the requests.")
    output_tokens: int = Field(description="Total over the requests.")
    reasoning_tokens: int = Field(description="Total over the requests (part of output_tokens).")
    latency_ms_p50: int | None = Field(description="Time to completion, median (nearest rank).")
    latency_ms_p95: int | None
    first_token_ms_p50: int | None = Field(description="Time to the first output of a stream, median.")
    first_token_ms_p95: int | None
    input_tokens_p50: int | None
    output_tokens_p50: int | None
    reasoning_tokens_p50: int | None
    last_used_at: int | None = Field(description="Unix seconds.")
    labels: list[str] = Field(description="Every label that pointed at the version when it was used.")
    cost: float | None = Field(description="From the run config's usage.prices; null when a model has no price.")


class UsagePoint(Schema):
    start: int = Field(description="Start of the hour or day (Unix seconds, UTC).")
    version: int
    requests: int
    errors: int


class PromptUsage(Schema):
    object: Literal["prompt.usage"] = "prompt.usage"
    prompt_id: str
    since: int | None
    until: int | None
    label: str | None
    bucket: Literal["hour", "day"]
    versions: list[VersionUsage] = Field(description="Each version used in the range, newest version first.")
    series: list[UsagePoint] = Field(description="Requests per bucket and version, by time.")
