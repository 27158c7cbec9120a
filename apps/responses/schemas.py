"""Public contracts of `/v1/responses` (OpenAI's Responses API shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from apps.core.errors import BadRequestError, request_error
from apps.prompts.selectors import validate_prompt_id


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
    version: int | None = Field(None, description='A version number ("2" or 2); the default version when absent.')
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
                raise request_error("Invalid value for 'prompt': 'id' and 'prompt_id' differ.", param="prompt.id")
        # Sorted, so that which unknown field is named does not depend on the client's key order.
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            name = f"prompt.{unknown[0]}"
            raise request_error(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
        return data

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise request_error(
                "Missing required parameter: 'prompt.id'.", param="prompt.id", code="missing_required_parameter"
            )
        try:
            validate_prompt_id(value)
        except BadRequestError as exc:  # an id that cannot exist is answered as a missing prompt is
            raise request_error(exc.message, param="prompt.id", code="prompt_not_found") from exc
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
            raise request_error(
                f"Invalid value for 'prompt.version': {value!r}; expected a version number such as \"1\".",
                param="prompt.version",
            )
        return int(value)

    @field_validator("variables", mode="before")
    @classmethod
    def _variables(cls, value: Any) -> Any:
        if not value:
            return None  # null, {} and [] all mean "no variables"
        if not isinstance(value, Mapping):
            raise request_error("Invalid value for 'prompt.variables': expected an object.", param="prompt.variables")
        for name, item in value.items():
            if not _is_variable_value(item):
                raise request_error(
                    f"Invalid value for 'prompt.variables.{name}': expected a string or an input_text, input_image "
                    "or input_file object.",
                    param=f"prompt.variables.{name}",
                )
        return value


class CreateResponseRequest(BaseModel):
    """OpenAI's create body. Unknown fields are a 400, as OpenAI answers them; see README for what is ignored."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: ResponsePrompt | None = None
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
            raise request_error("Invalid value for 'prompt_id': it differs from 'prompt.id'.", param="prompt_id")
        return value


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
