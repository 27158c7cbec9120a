"""Model settings: what a Responses request and a prompt version can both say about how a model is called.

`model`, `temperature`, `top_p`, `max_output_tokens`, `tools` (function tools, their JSON Schemas checked as
OpenAI checks them, and the server-side tools registered with `register_tool_kinds`), `tool_choice`,
`parallel_tool_calls`, `text` (the output format), `reasoning` and
`truncation`, with the names, shapes and rules of OpenAI's `responses.create`, so settings move between a request
and a stored prompt by copy and paste. `ModelSettings` validates them once, at whichever boundary they arrive
(`/v1/responses`, `/v1/prompts`, the dashboard's form); `merged` lays a request's settings over a prompt's.

Server-side tools (`mcp`, `web_search`, ...) are run by apps.tools, which apps/core may not import: their request
schemas are registered here (`register_tool_kinds`, called by the Responses app's `ready()`, as it registers its
housekeeping jobs) and `tools` dispatches on `type` through that registry, so a request and a prompt version check a
tool with the same schema. What is stored (`StoredModelSettings`, a prompt version's) may not hold a tool's secrets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, PlainValidator, ValidationError, model_validator

from apps.core.json_schemas import check_json_schema, check_strict_schema
from apps.core.validation import invalid, missing, rejected, relocated, validated

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
REASONING_SUMMARIES = ("auto", "concise", "detailed")


# ------------------------------------------------------------------------------------------ tools
# A server-side tool's `type` -> its request schema (a pydantic model with `echo()`, and `SECRET_FIELDS`: the fields
# that are never stored), and what the "not supported" message says of each group of kinds.
_TOOL_SCHEMAS: dict[str, type[BaseModel]] = {}
_TOOL_SUMMARIES: dict[str, str] = {}


def register_tool_kinds(kinds: tuple[str, ...], schema: type[BaseModel], *, summary: str) -> None:
    """Accept `tools` entries of these `type`s, validated by `schema` (idempotent: `ready()` may run twice)."""
    for kind in kinds:
        _TOOL_SCHEMAS[kind] = schema
    _TOOL_SUMMARIES[kinds[0]] = summary


def tool_kinds() -> tuple[str, ...]:
    """Every `type` a tool may have: 'function' and the registered server-side kinds."""
    return ("function", *_TOOL_SCHEMAS)


def _unsupported(kind: Any, at: tuple[str, ...] = ()) -> Exception:
    supported = ", ".join(["'function' (run by the client)", *_TOOL_SUMMARIES.values()])
    return invalid(
        f"{kind!r} tools are not supported by stackadmin; supported: {supported}", code="unsupported_tool", at=at
    )


def _tool(raw: Any) -> Any:
    """A function tool (run by the client) or a registered server-side tool, by its `type`."""
    if isinstance(raw, BaseModel):
        return raw
    if not isinstance(raw, Mapping):
        raise invalid("expected a tool object")
    kind = raw.get("type")
    schema = FunctionTool if kind in (None, "function") else _TOOL_SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise _unsupported(kind, at=("type",))
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise relocated(exc) from None


def _function_type(kind: Any) -> Any:
    if kind != "function":
        raise _unsupported(kind)
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


def _distinct_names(tools: list[Any]) -> list[Any]:
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, FunctionTool):
            continue
        if tool.name in seen:
            raise invalid(f"the function {tool.name!r} is declared twice", at=(index, "name"))
        seen.add(tool.name)
    return tools


# A tool is a `FunctionTool` or an instance of a registered server-side tool's schema (`_tool` picks by `type`).
Tool = Annotated[Any, PlainValidator(_tool)]
Tools = Annotated[list[Tool], AfterValidator(_distinct_names)]


def _no_secrets(tools: list[Any] | None) -> list[Any] | None:
    """A stored tool (a prompt version's) without the fields its kind keeps secret (an MCP server's `headers` and
    `authorization`): a stored prompt is readable by everyone who may read it, exported, copied between servers."""
    for index, tool in enumerate(tools or ()):
        for name in getattr(tool, "SECRET_FIELDS", ()):
            if getattr(tool, name, None) is not None:
                raise invalid(
                    f"a prompt version cannot hold {tool.type!r} tool secrets ('{name}'): secrets are never stored at "
                    "rest in prompts; give them at request time, in the request's tools (an mcp tool with this "
                    "server_label and only its headers/authorization)",
                    code="secret_not_stored",
                    at=(index, name),
                )
    return tools


StoredTools = Annotated[Tools, AfterValidator(_no_secrets)]


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


def check_tool_choice(choice: str | dict[str, Any] | None, tools: list[Any]) -> None:
    """`tool_choice` against `tools`: 'required' needs a tool (of any kind); a named choice names a function."""
    names = {tool.name for tool in tools if isinstance(tool, FunctionTool)}
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
TOOLS_DESCRIPTION = (
    "Function tools (run by the client), with JSON Schema parameters, and server-side tools: `mcp` (a remote MCP "
    "server's tools), `web_search` / `web_search_preview` (the operator's search provider)."
)
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
    tools: Tools | None = Field(None, description=TOOLS_DESCRIPTION)
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


class StoredModelSettings(ModelSettings):
    """A prompt version's settings: its tools hold no secrets (a 400 naming the field). Hosts of MCP tools are not
    checked against the operator's allow-list here but when a response uses them, as a request's are: the operator
    may allow a host later."""

    tools: StoredTools | None = Field(None, description=TOOLS_DESCRIPTION)


def settings_given(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data`'s settings, validated as a prompt version stores them (a 400 naming the first bad one), as
    `ModelSettings.given()` writes them."""
    return validated(StoredModelSettings, {name: data.get(name) for name in SETTING_NAMES}).given()


def merged(stored: Mapping[str, Any], request: ModelSettings) -> ModelSettings:
    """`request`'s settings laid over `stored` ones (a prompt version's): a setting the request gives wins. `tools`
    is one setting: a request that gives `tools` replaces the prompt's list, it does not add to it (the Responses
    service takes MCP credentials aside first, apps/responses/services.py `_prompt_tools`)."""
    return validated(ModelSettings, {**stored, **request.given()})
