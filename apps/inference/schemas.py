"""Public contracts of `/v1/models` and `/v1/chat/completions` (OpenAI's shapes).

A create request is checked here as OpenAI checks it before a model runs; anything else is for the model server to
judge. Values are kept as sent (a penalty of 1 is forwarded as 1, not 1.0), as the body goes upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from apps.core.metadata import Metadata
from apps.core.schemas import CursorList, Deleted, ModelOutput, ModelPageQuery, PageQuery
from apps.core.validation import expect, invalid, missing

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _present(model: str) -> str:
    if not model:
        raise missing()
    return model


def _role(message: dict[str, Any]) -> dict[str, Any]:
    role = message.get("role")
    if role not in CHAT_ROLES:
        raise invalid(f"{role!r}; expected one of {', '.join(CHAT_ROLES)}", at=("role",))
    return message


def _number(low: float, high: float) -> AfterValidator:
    def check(value: Any) -> Any:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
        ):
            raise invalid(f"{value!r}; expected a number from {low} to {high}")
        return value

    return AfterValidator(check)


def _choices(n: Any) -> Any:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128):
        raise invalid(f"{n!r}; expected an integer from 1 to 128")
    return n


def _function_tool(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise invalid("expected {type: 'function', function: {name, parameters}}")
    if function.get("parameters") is not None and not isinstance(function["parameters"], Mapping):
        raise invalid("expected a JSON Schema object", at=("function", "parameters"))
    return tool


ChatTools = Annotated[
    list[Annotated[Any, AfterValidator(_function_tool)]],
    BeforeValidator(expect(lambda tools: isinstance(tools, list), "expected an array of tools")),
]


class CreateChatCompletionRequest(BaseModel):
    """OpenAI's create body. Fields not listed here are forwarded to the model server unchanged."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, AfterValidator(_present)]
    messages: list[Annotated[dict[str, Any], AfterValidator(_role)]] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    frequency_penalty: Annotated[Any, _number(-2, 2)] = None
    presence_penalty: Annotated[Any, _number(-2, 2)] = None
    n: Annotated[Any, AfterValidator(_choices)] = None
    stream: bool | None = None
    store: bool | None = None
    tools: ChatTools | None = None
    metadata: Metadata | None = None


class UpdateChatCompletionRequest(Schema):
    metadata: Metadata | None


class Model(Schema):
    id: str
    object: str = "model"
    created: int
    owned_by: str
    custom_metadata: dict[str, Any] = Field(
        description="llama-stack's metadata: model_type, provider_id, provider_resource_id and the model's own."
    )


class ModelDetail(Model):
    """OpenAI's model object with llama-stack's `Model` resource fields beside it."""

    identifier: str
    provider_id: str
    provider_resource_id: str
    model_type: str
    metadata: dict[str, Any]
    type: Literal["model"] = "model"


class ModelList(Schema):
    object: str = "list"
    data: list[Model]


class ProviderInfo(Schema):
    """llama-stack's provider description; secrets in `config` are redacted."""

    api: str
    provider_id: str
    provider_type: str
    config: dict[str, Any]
    health: dict[str, Any]


class ProviderList(Schema):
    object: str = "list"
    data: list[ProviderInfo]


class ChatCompletion(ModelOutput):
    object: str = "chat.completion"
    created: int
    choices: list[dict[str, Any]]
    input_messages: list[dict[str, Any]] | None = None


class ChatCompletionList(CursorList[ChatCompletion]):
    """A page of stored chat completions."""


class ChatCompletionListQuery(ModelPageQuery):
    """The query of the stored chat completions' list."""


class ChatCompletionMessageList(CursorList[dict[str, Any]]):
    """A page of a stored chat completion's input messages."""


class ChatCompletionMessageListQuery(PageQuery):
    order: Literal["asc", "desc"] = "asc"  # a conversation reads oldest first


class ChatCompletionDeleted(Deleted):
    object: Literal["chat.completion.deleted"] = "chat.completion.deleted"
