"""Public contracts of `/v1/responses` (OpenAI's Responses API shapes).

`CreateResponseRequest` carries every rule a create request must meet, with OpenAI's messages and codes: the
input items (`apps.core.items.Item`, of the types this server can send to a chat model), function tools with
their JSON Schemas, `tool_choice`, `text.format`, metadata, numeric ranges and the parameters stackadmin does
not support. The service then resolves what a request names (model, prompt, previous response, conversation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from apps.conversations.selectors import validate_conversation_id
from apps.core.errors import BadRequestError
from apps.core.items import Item
from apps.core.metadata import Metadata
from apps.core.model_settings import FunctionTool, ModelSettings, check_tool_choice
from apps.core.paging import MAX_PAGE_SIZE
from apps.core.schemas import CursorList, Deleted, ModelOutput, ModelPageQuery, PageQuery, page_size
from apps.core.validation import invalid, missing, rejected
from apps.prompts.keys import LABEL_RE
from apps.prompts.selectors import validate_prompt_id

# Input items a chat model can be sent; the rest of `_SKIPPED_TYPES` describe work of built-in tools or
# reasoning and are stored but not sent.
_SENT_TYPES = ("message", "function_call", "function_call_output", "compaction", "mcp_call")
_SKIPPED_TYPES = {
    "reasoning",
    "web_search_call",
    "file_search_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",  # not sent as such: it runs (or declines) the call it answers
    "image_generation_call",
}


# ------------------------------------------------------------------------------------------ input
def _string_or_items(raw: Any) -> Any:
    """A string is one user message."""
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if not isinstance(raw, list):
        raise invalid("expected a string or an array of input items")
    return raw


def _supported(items: list[dict]) -> list[dict]:
    for index, item in enumerate(items):
        if item["type"] not in _SENT_TYPES and item["type"] not in _SKIPPED_TYPES:
            raise invalid(
                f"{item['type']!r} items are not supported by stackadmin's Responses API (supported: message, "
                "function_call, function_call_output, compaction, reasoning, mcp_call, mcp_list_tools, "
                "mcp_approval_request, mcp_approval_response, web_search_call)",
                at=(index, "type"),
            )
    return items


ResponseInput = Annotated[list[Item], AfterValidator(_supported), BeforeValidator(_string_or_items)]


# ------------------------------------------------------------------------------------------ tools
# `tools` is the model settings' own (apps.core.model_settings `Tools`): function tools and the server-side kinds of
# apps/tools/server_tools.py `TOOL_KINDS`, which this app registers there (apps.responses.apps), one schema each.
def function_tools(tools: list[Any] | None) -> list[FunctionTool] | None:
    """The client's function tools of a request's `tools` (None when it gives no `tools`)."""
    return None if tools is None else [tool for tool in tools if isinstance(tool, FunctionTool)]


def server_tool_params(tools: list[Any] | None) -> list[tuple[int, Any]]:
    """The server-side tools of a request's `tools`, each with its index there."""
    return [(index, tool) for index, tool in enumerate(tools or ()) if not isinstance(tool, FunctionTool)]


# ------------------------------------------------------------------------------------------ the rest
def _model_or_none(model: Any) -> Any:
    """An empty model is no model (a missing one, unless a prompt gives it)."""
    return None if model == "" else model


def _conversation_id(conversation: str | dict[str, Any] | None) -> str | None:
    """The conversation's id (the conversations app owns its format); an empty value is no conversation."""
    if not conversation:
        return None
    raw = conversation.get("id") if isinstance(conversation, Mapping) else conversation
    try:
        return validate_conversation_id(raw, param="conversation")
    except BadRequestError as exc:
        raise rejected("{message}", code=exc.code, message=exc.message) from None


# ------------------------------------------------------------------------------------------ prompt
def _is_variable_value(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if not isinstance(value, Mapping):
        return False
    kind = value.get("type")
    return (kind == "input_text" and isinstance(value.get("text"), str)) or kind in ("input_image", "input_file")


class ResponsePrompt(BaseModel):
    """OpenAI's `prompt` parameter: a stored prompt, which version of it, and the values of its variables.

    llama-stack's `prompt_id` is accepted for `id`. Whether the prompt exists for the caller and whether the
    variables are the declared ones is the Responses service's to check.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The prompt's id ('pmpt_' and 48 hex characters); llama-stack calls it prompt_id.")
    version: int | str | None = Field(
        None,
        description='A version number ("2" or 2) or a label ("production"); the default version when absent.',
    )
    variables: dict[str, str | dict[str, Any]] | None = Field(
        None, description="A value for each declared variable: a string, or an input_text/input_image/input_file."
    )

    @model_validator(mode="before")
    @classmethod
    def _field_names(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        data = dict(data)
        if "prompt_id" in data:
            alias = data.pop("prompt_id")
            if data.setdefault("id", alias) != alias:
                raise rejected("Invalid value for 'prompt': 'id' and 'prompt_id' differ.", code=None, at=("id",))
        # Sorted, so that which unknown field is named does not depend on the client's key order.
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise rejected("Unknown parameter: '{param}'.", code="unknown_parameter", at=(unknown[0],))
        return data

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise rejected("Missing required parameter: '{param}'.", code="missing_required_parameter")
        try:
            validate_prompt_id(value)
        except BadRequestError as exc:  # an id that cannot exist is answered as a missing prompt is
            raise rejected("{message}", code="prompt_not_found", message=exc.message) from exc
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> int | str | None:
        """A version number ("2" or 2), or a label ("production", "latest")."""
        if value is None:
            return None
        if isinstance(value, str) and LABEL_RE.match(value) and not value.isdigit():
            return value
        if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
            raise rejected(
                "Invalid value for '{param}': {value!r}; expected a version number such as \"1\" or a label such "
                'as "production".',
                code=None,
                value=value,
            )
        return int(value)

    @field_validator("variables", mode="before")
    @classmethod
    def _variables(cls, value: Any) -> Any:
        if not value:
            return None  # null, {} and [] all mean "no variables"
        if not isinstance(value, Mapping):
            raise rejected("Invalid value for '{param}': expected an object.", code=None)
        for name, item in value.items():
            if not _is_variable_value(item):
                raise rejected(
                    "Invalid value for '{param}': expected a string or an input_text, input_image or input_file "
                    "object.",
                    code=None,
                    at=(name,),
                )
        return value


class CreateResponseRequest(ModelSettings):
    """OpenAI's create body. Unknown fields are a 400, as OpenAI answers them; see README for what is ignored.

    The model settings (`apps.core.model_settings`) are optional here when a `prompt` is named: the prompt
    version's own settings fill in what the request leaves out (the service merges them)."""

    model_config = ConfigDict(extra="forbid")

    background: bool | None = Field(
        None, description="Run the response server-side: answered at once as `queued`; poll, stream or cancel it."
    )
    model: Annotated[str | None, BeforeValidator(_model_or_none)] = Field(
        None, description="Required unless the `prompt` names a version that has one."
    )
    input: ResponseInput | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: Annotated[str | dict[str, Any] | None, AfterValidator(_conversation_id)] = None
    prompt: ResponsePrompt | None = None
    prompt_id: str | None = Field(None, description="llama-stack's shorthand for prompt={'id': ...}.")
    store: bool | None = True
    stream: bool | None = False
    max_tool_calls: int | None = Field(None, ge=1)
    metadata: Metadata | None = None
    include: list[str] | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    user: str | None = None
    safety_identifier: str | None = Field(None, max_length=64)
    prompt_cache_key: str | None = Field(None, max_length=64)
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _prompt_shorthand(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("prompt") is None and isinstance(data.get("prompt_id"), str):
            return {**data, "prompt": {"id": data["prompt_id"]}}
        return data

    @field_validator("prompt_id")
    @classmethod
    def _same_prompt(cls, value: str | None, info: ValidationInfo) -> str | None:
        prompt = info.data.get("prompt")
        if value is not None and prompt is not None and prompt.id != value:
            raise rejected("Invalid value for '{param}': it differs from 'prompt.id'.", code=None)
        return value

    @model_validator(mode="after")
    def _together(self) -> CreateResponseRequest:
        """The rules that join fields: what to answer, where its history comes from, which tools it may call."""
        if self.input is None and self.prompt is None and self.prompt_id is None:
            raise missing(at=("input",))
        if self.previous_response_id and self.conversation:
            raise rejected(
                "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only "
                "providing one of: 'previous_response_id' or 'conversation'.",
                code="mutually_exclusive_parameters",
                at=("conversation",),
            )
        if self.background and self.store is False:
            raise rejected(
                "Invalid value for 'store': background responses must be stored (store=true), so that they can be "
                "retrieved, streamed and cancelled.",
                code="invalid_value",
                at=("store",),
            )
        if self.prompt is None:
            if self.model is None:
                raise missing(at=("model",))
            check_tool_choice(self.tool_choice, self.tools or [])
        return self

    @model_validator(mode="after")
    def _choice_among_tools(self) -> CreateResponseRequest:
        """Replaces the settings' own check: with a prompt, `tool_choice` may name the prompt's tools, so the
        service checks it once the prompt's settings are merged in (`_together` checks it otherwise)."""
        return self


class CompactResponseRequest(BaseModel):
    """OpenAI's `POST /v1/responses/compact` body: what to compact is the `previous_response_id` chain, then
    `input`. The prompt-cache, `service_tier` and `image` options are accepted and ignored."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="The model that writes the summary.", min_length=1)
    input: ResponseInput | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    prompt_cache_key: str | None = Field(None, max_length=64)
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    image: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something_to_compact(self) -> CompactResponseRequest:
        if self.input is None and not self.previous_response_id:
            raise missing(at=("input",))
        return self


class CompactedResponse(BaseModel):
    id: str
    object: Literal["response.compaction"] = "response.compaction"
    created_at: int
    output: list[dict[str, Any]] = Field(description="Every user message, then one `compaction` item.")
    usage: dict[str, Any] | None


class Response(ModelOutput):
    object: str = "response"
    created_at: int
    status: str
    output: list[dict[str, Any]]


class ResponseList(CursorList[Response]):
    """A page of stored responses (each with its `input`)."""


class ResponseListQuery(ModelPageQuery):
    limit: int = Field(
        50, description=f"Page size, 1-{MAX_PAGE_SIZE}.", json_schema_extra=page_size()
    )  # llama-stack default


class InputItemList(CursorList[dict[str, Any]]):
    """A page of a response's input items."""


class InputItemListQuery(PageQuery):
    """`after` and `before` are item ids of the list in the requested order."""

    before: str | None = None


class ResponseDeleted(Deleted):
    object: Literal["response"] = "response"
