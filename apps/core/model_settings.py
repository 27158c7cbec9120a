"""Model settings: what a Responses request and a prompt version can both say about how a model is called.

`model`, `temperature`, `top_p`, `max_output_tokens`, `tools` (function tools, their JSON Schemas checked as
OpenAI checks them), `tool_choice`, `parallel_tool_calls`, `text` (the output format), `reasoning` and
`truncation`, with the names, shapes and rules of OpenAI's `responses.create`, so settings move between a request
and a stored prompt by copy and paste. `ModelSettings` validates them once, at whichever boundary they arrive
(`/v1/responses`, `/v1/prompts`, the dashboard's form); `merged` lays a request's settings over a prompt's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from apps.core.json_schemas import check_json_schema, check_strict_schema
from apps.core.validation import invalid, missing, rejected, validated

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
REASONING_SUMMARIES = ("auto", "concise", "detailed")


# ------------------------------------------------------------------------------------------ tools
def _tool_object(tool: Any) -> Any:
    if not isinstance(tool, Mapping):
        raise invalid("expected a tool object")
    return tool


def _function_type(kind: Any) -> Any:
    if kind != "function":
        raise invalid(
            f"{kind!r} tools are not supported by stackadmin; only 'function' tools (run by the client) are",
            code="unsupported_tool",
        )
    return kind


def _function_name(name: Any) -> Any:
    if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
        raise invalid(
            f"{name!r}; function names are 1-64 letters, digits, '_' or '-'",
            code="missing_required_parameter" if name is None else "invalid_value",
        )
    return name


def _function_parameters(parameters: Any) -> Any:
    if parameters is None:
        return parameters
    check_json_schema(parameters)
    if parameters.get("type", "object") != "object":
        raise rejected(
            "Invalid schema for '{param}': the parameters of a function are an object (type 'object'), not {kind!r}.",
            code="invalid_schema",
            kind=parameters.get("type"),
        )
    return parameters


def _flag(value: Any) -> Any:
    if value is not None and not isinstance(value, bool):
        raise invalid("expected true or false")
    return value


def _text(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise invalid("expected a string")
    return value


class FunctionTool(BaseModel):
    """A function tool, run by the client. Fields the tool has beyond these are dropped, as OpenAI does."""

    type: Annotated[Any, AfterValidator(_function_type)] = Field(None, validate_default=True)
    name: Annotated[Any, AfterValidator(_function_name)] = Field(None, validate_default=True)
    parameters: Annotated[Any, AfterValidator(_function_parameters)] = None
    strict: Annotated[Any, AfterValidator(_flag)] = None
    description: Annotated[Any, AfterValidator(_text)] = None

    @model_validator(mode="after")
    def _strict_parameters(self) -> FunctionTool:
        if self.strict and self.parameters is not None:
            check_strict_schema(self.parameters, at=("parameters",))
        return self

    def echo(self) -> dict[str, Any]:
        """The tool as a response repeats it."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": self.strict,
        }


def _distinct_names(tools: list[FunctionTool]) -> list[FunctionTool]:
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if tool.name in seen:
            raise invalid(f"the function {tool.name!r} is declared twice", at=(index, "name"))
        seen.add(tool.name)
    return tools


Tools = Annotated[list[Annotated[FunctionTool, BeforeValidator(_tool_object)]], AfterValidator(_distinct_names)]


# ------------------------------------------------------------------------------------------ tool_choice
_TOOL_CHOICE_FORMS = (
    "expected 'auto', 'none', 'required', {type: 'function', name} or {type: 'allowed_tools', mode, tools}"
)


def _tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    """The form of `tool_choice`; the functions it names are checked against `tools` by the request."""
    if choice in ("auto", "none", "required"):
        return choice
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "function":
        return choice
    if kind == "allowed_tools":
        allowed = choice.get("tools")
        if choice.get("mode", "auto") not in ("auto", "required") or not isinstance(allowed, list) or not allowed:
            raise invalid("allowed_tools needs mode 'auto' or 'required' and a non-empty 'tools' array")
        return choice
    raise invalid(f"{choice!r}; {_TOOL_CHOICE_FORMS}")


def check_tool_choice(choice: str | dict[str, Any] | None, tools: list[FunctionTool]) -> None:
    names = {tool.name for tool in tools}
    if choice == "required" and not tools:
        raise invalid("'required' needs at least one tool in 'tools'", at=("tool_choice",))
    if not isinstance(choice, Mapping):
        return
    if choice["type"] == "function":
        if choice.get("name") not in names:
            raise invalid(f"{choice.get('name')!r} is not a function in 'tools'", at=("tool_choice", "name"))
        return
    for index, ref in enumerate(choice["tools"]):
        name = ref.get("name") if isinstance(ref, Mapping) else None
        if name not in names:
            raise invalid(f"{name!r} is not a function in 'tools'", at=("tool_choice", "tools", index))


# ------------------------------------------------------------------------------------------ text
def _json_schema_format(fmt: Mapping) -> None:
    name = fmt.get("name")
    if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
        raise invalid(f"{name!r}; a schema name is 1-64 letters, digits, '_' or '-'", at=("format", "name"))
    schema = fmt.get("schema")
    if schema is None:
        raise missing(at=("format", "schema"))
    check_json_schema(schema, at=("format", "schema"))
    if schema.get("type") != "object":
        raise rejected(
            "Invalid schema for '{param}': the root of a response format schema must be of type 'object'.",
            code="invalid_schema",
            at=("format", "schema"),
        )
    strict = fmt.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise invalid("expected true or false", at=("format", "strict"))
    if strict:
        check_strict_schema(schema, at=("format", "schema"))


def _text_format(text: dict[str, Any]) -> dict[str, Any]:
    verbosity = text.get("verbosity") or "medium"
    if verbosity not in ("low", "medium", "high"):
        raise invalid(f"{verbosity!r}; expected low, medium or high", at=("verbosity",))
    fmt = text.get("format") or {"type": "text"}
    if not isinstance(fmt, Mapping):
        raise invalid("expected an object with a 'type'", at=("format",))
    kind = fmt.get("type")
    if kind == "json_schema":
        _json_schema_format(fmt)
    elif kind not in ("text", "json_object"):
        raise invalid(f"{kind!r}; expected text, json_object or json_schema", at=("format", "type"))
    return text


def _reasoning(reasoning: Any) -> Any:
    if reasoning is None:
        return None
    if not isinstance(reasoning, Mapping):
        raise invalid("expected an object with 'effort' and/or 'summary'")
    effort, summary = reasoning.get("effort"), reasoning.get("summary")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise invalid(f"{effort!r}; expected one of {', '.join(REASONING_EFFORTS)}", at=("effort",))
    if summary is not None and summary not in REASONING_SUMMARIES:
        raise invalid(f"{summary!r}; expected one of {', '.join(REASONING_SUMMARIES)}", at=("summary",))
    return dict(reasoning)


def _model_name(model: Any) -> Any:
    if model is not None and (not isinstance(model, str) or not model.strip() or len(model) > 256):
        raise invalid("expected a model id (a non-empty string of at most 256 characters)")
    return model


# ------------------------------------------------------------------------------------------ the settings
SETTING_NAMES = (
    "model",
    "temperature",
    "top_p",
    "max_output_tokens",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "truncation",
)


class ModelSettings(BaseModel):
    """Every setting is optional; `tool_choice` must name functions that `tools` declares."""

    model: Annotated[str | None, AfterValidator(_model_name)] = Field(
        None, description="The model id to call, as `GET /v1/models` lists it."
    )
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_output_tokens: int | None = Field(None, ge=16)
    tools: Tools | None = Field(None, description="Function tools (run by the client), with JSON Schema parameters.")
    tool_choice: Annotated[str | dict[str, Any], AfterValidator(_tool_choice)] | None = None
    parallel_tool_calls: bool | None = None
    text: Annotated[dict[str, Any], AfterValidator(_text_format)] | None = Field(
        None, description="The output format: {format: {type: text | json_object | json_schema, ...}, verbosity}."
    )
    reasoning: Annotated[dict[str, Any] | None, BeforeValidator(_reasoning)] = Field(
        None, description=f"{{effort: {' | '.join(REASONING_EFFORTS)}, summary: {' | '.join(REASONING_SUMMARIES)}}}"
    )
    truncation: Literal["auto", "disabled"] | None = Field(
        None,
        description="auto: drop the oldest turns of the history to fit the model's configured context window.",
    )

    @model_validator(mode="after")
    def _choice_among_tools(self) -> ModelSettings:
        check_tool_choice(self.tool_choice, self.tools or [])
        return self

    def given(self) -> dict[str, Any]:
        """The settings that are set, in their stored (JSON) form."""
        out = {}
        for name in SETTING_NAMES:
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = [tool.echo() for tool in value] if name == "tools" else value
        return out


def settings_given(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data`'s settings, validated (a 400 naming the first bad one), as `ModelSettings.given()` stores them."""
    return validated(ModelSettings, {name: data.get(name) for name in SETTING_NAMES}).given()


def merged(stored: Mapping[str, Any], request: ModelSettings) -> ModelSettings:
    """`request`'s settings laid over `stored` ones (a prompt version's): a setting the request gives wins."""
    return validated(ModelSettings, {**stored, **request.given()})
