"""Public contracts of `/v1/responses` (OpenAI's Responses API shapes)."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field


class CreateResponseRequest(BaseModel):
    """OpenAI's create body. Unknown fields are a 400, as OpenAI answers them; see README for what is ignored."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    prompt_id: str | None = Field(None, description="llama-stack's shorthand for prompt={'id': ...}.")
    store: bool | None = True
    stream: bool | None = False
    background: bool | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_output_tokens: int | None = Field(None, ge=16)
    max_tool_calls: int | None = Field(None, ge=1)
    metadata: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    user: str | None = None
    safety_identifier: str | None = Field(None, max_length=64)
    prompt_cache_key: str | None = Field(None, max_length=64)
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None


class Response(Schema):
    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "response"
    created_at: int
    status: str
    model: str
    output: list[dict[str, Any]]


class ResponseList(Schema):
    object: str = "list"
    data: list[Response]
    has_more: bool
    first_id: str | None
    last_id: str | None


class InputItemList(Schema):
    object: str = "list"
    data: list[dict[str, Any]]
    has_more: bool
    first_id: str | None
    last_id: str | None


class ResponseDeleted(Schema):
    id: str
    object: str = "response"
    deleted: bool
