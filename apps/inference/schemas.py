"""Public contracts of `/v1/models` and `/v1/chat/completions` (OpenAI's shapes)."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field


class CreateChatCompletionRequest(BaseModel):
    """OpenAI's create body. Fields not listed here are forwarded to the model server unchanged."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)


class UpdateChatCompletionRequest(Schema):
    metadata: dict[str, str] | None


class Model(Schema):
    id: str
    object: str = "model"
    created: int
    owned_by: str


class ModelList(Schema):
    object: str = "list"
    data: list[Model]


class ChatCompletion(Schema):
    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[dict[str, Any]]
    input_messages: list[dict[str, Any]] | None = None


class ChatCompletionList(Schema):
    object: str = "list"
    data: list[ChatCompletion]
    has_more: bool
    first_id: str | None
    last_id: str | None


class ChatCompletionMessageList(Schema):
    object: str = "list"
    data: list[dict[str, Any]]
    has_more: bool
    first_id: str | None
    last_id: str | None


class ChatCompletionDeleted(Schema):
    id: str
    object: str = "chat.completion.deleted"
    deleted: bool
