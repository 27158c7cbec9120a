"""Responses' `mcp` tool: a remote MCP server's tools, offered to the model and run by the server.

As OpenAI's: `{"type": "mcp", "server_label", "server_url", "headers", "authorization", "allowed_tools",
"require_approval", "server_description"}`.

- **Listing**: before the first model call the server's tools are listed into an `mcp_list_tools` output item,
  unless the response's history (its `previous_response_id` chain, or its conversation) already holds one for this
  `server_label`: that list is used again and nothing new is listed. `allowed_tools` (names, or
  `{tool_names, read_only}`) narrows what the model is offered. A listing that fails ends the response `failed`,
  with the error in the `mcp_list_tools` item.
- **Calls**: the model sees each tool as a function (its MCP name when that is a valid function name not taken
  yet, else `<server_label>__<name>`). A call becomes an `mcp_call` item with its output, or its `error` (the tool
  reported one, or the server failed): the model gets the error text and the loop goes on.
- **Approval**: `require_approval` is `"always"` (the default, as OpenAI's), `"never"`, or
  `{"always": {tool_names, read_only}, "never": {tool_names, read_only}}` (a tool `never` matches runs at once;
  any other asks). Asking ends the response with an `mcp_approval_request` item (id `mcpr_...`). A
  next request with `previous_response_id` (or the same conversation), the same `mcp` tool, and an
  `mcp_approval_response` input item runs the call (an `mcp_call` with `approval_request_id`) or tells the model
  it was declined, before the model is called again.
- **Secrets**: `headers` and `authorization` (sent as `Authorization: Bearer ...`) live in memory for the
  response only: `echo()` and `spec()` leave them out, so neither the response, nor its stored plan, nor its input
  items hold them.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from apps.core.errors import BadRequestError
from apps.core.validation import invalid, missing, relocated
from apps.tools.config import McpConfig, tools_config
from apps.tools.mcp import McpError, McpServer, mcp_client
from apps.tools.server_tools import ItemOutput, ServerTool, ToolCall, ToolSetupError, call_id_for

LABEL_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DECLINED = "The user declined to run this tool call."


# ------------------------------------------------------------------------------------------ the request's tool
class ToolFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_names: list[str] | None = None
    read_only: bool | None = None

    def matches(self, tool: dict) -> bool:
        read_only = bool((tool.get("annotations") or {}).get("readOnlyHint"))
        return tool["name"] in (self.tool_names or ()) or (self.read_only is True and read_only)


class ApprovalFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    always: ToolFilter | None = None
    never: ToolFilter | None = None


def _validated(schema: type[BaseModel], value: Any) -> BaseModel:
    """A nested object validated here, so that its errors name the field (not the union's branch)."""
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        raise relocated(exc) from None


class McpToolParam(BaseModel):
    """An `mcp` entry of a request's `tools`. Fields OpenAI has that need its own services (`connector_id`,
    `tunnel_id`, ...) are unknown parameters here."""

    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("headers", "authorization")  # never stored (nor in a prompt)

    type: Literal["mcp"]
    server_label: str = Field(description="A name for the server, unique among the request's MCP tools.")
    server_url: str | None = Field(
        None,
        description=(
            "The server's MCP endpoint (http or https; a path ending in /sse: SSE). Left out, the tool only gives "
            "`headers`/`authorization` for the MCP tool of this `server_label` of the request's prompt."
        ),
    )
    headers: dict[str, str] | None = Field(None, description="HTTP headers for the server; never stored or echoed.")
    authorization: str | None = Field(None, description="A token sent as 'Authorization: Bearer'; never stored.")
    allowed_tools: list[str] | ToolFilter | None = None
    require_approval: Literal["always", "never"] | ApprovalFilter | None = None
    server_description: str | None = None

    @field_validator("allowed_tools", mode="before")
    @classmethod
    def _allowed_tools(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return _validated(ToolFilter, value)
        if value is None:
            return value
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise invalid("expected a list of tool names or {tool_names, read_only}")
        return value

    @field_validator("require_approval", mode="before")
    @classmethod
    def _require_approval(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return _validated(ApprovalFilter, value)
        if value is None or value in ("always", "never"):
            return value
        raise invalid(f"{value!r}; expected 'always', 'never' or {{always: {{...}}, never: {{...}}}}")

    @field_validator("server_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not LABEL_RE.match(value):
            raise invalid(f"{value!r}; a server label is 1-64 letters, digits, '_' or '-'")
        return value

    @field_validator("server_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid(f"{value!r}; expected an http or https URL")
        try:
            parts.port  # noqa: B018 - a port that is not a number raises here
        except ValueError:
            raise invalid(f"{value!r}; its port is not a number") from None
        if parts.username is not None or parts.password is not None or "\\" in parts.netloc:
            # URL parsers disagree on `user@host` tricks (`a\\@b`): the host checked must be the host reached.
            raise invalid(f"{value!r}; give the server's credentials in 'headers' or 'authorization', not in the URL")
        return value

    @model_validator(mode="after")
    def _one_authorization(self) -> McpToolParam:
        if self.authorization and any(name.lower() == "authorization" for name in self.headers or {}):
            raise invalid("give 'authorization' or an Authorization header, not both", at=("authorization",))
        if self.server_url is None:
            self._credentials_only()
        return self

    def _credentials_only(self) -> None:
        """Without `server_url` the tool is credentials for a prompt's MCP tool: `headers`/`authorization`, no more."""
        if not self.headers and not self.authorization:
            raise missing(at=("server_url",))
        for name in ("allowed_tools", "require_approval", "server_description"):
            if name in self.model_fields_set:
                raise invalid(
                    f"an mcp tool without 'server_url' only gives headers/authorization for the prompt's MCP tool "
                    f"{self.server_label!r}; give 'server_url' too to define a tool of its own",
                    at=(name,),
                )

    @property
    def credentials_only(self) -> bool:
        """The tool gives only secrets, for the MCP tool with its label of the request's prompt."""
        return self.server_url is None

    def echo(self) -> dict:
        """The tool as a response shows it: everything but its secrets."""
        shown = self.model_dump(mode="json", exclude={"headers", "authorization"})
        return {name: value for name, value in shown.items() if value is not None or name == "server_description"}

    def secret_headers(self) -> dict[str, str]:
        headers = dict(self.headers or {})
        if self.authorization:
            headers["Authorization"] = f"Bearer {self.authorization}"
        return headers


def mcp_tools_check(
    tools: list[tuple[int, McpToolParam]], *, config: McpConfig | None = None, at: str = "tools"
) -> None:
    """The business rules of a request's MCP tools (each with its index in `tools`, or in the list `at` names: a
    prompt version's `prompt.tools`): distinct labels, and only hosts the operator allowed (a 400 naming the host:
    nothing is stored or called before this passes). A credentials-only tool has no host of its own."""
    config = config or tools_config().mcp
    seen: set[str] = set()
    for index, tool in tools:
        if tool.server_label in seen:
            raise BadRequestError(
                f"Invalid value for '{at}[{index}].server_label': the MCP server label {tool.server_label!r} is "
                "used twice.",
                param=f"{at}[{index}].server_label",
                code="invalid_value",
            )
        seen.add(tool.server_label)
        if tool.credentials_only:
            continue
        parts = urlsplit(tool.server_url)
        if not config.allows(parts.hostname or "", parts.port):
            host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            raise BadRequestError(
                f"Invalid value for '{at}[{index}].server_url': MCP server host '{host}' is not allowed on this "
                "server (the operator lists the hosts MCP tools may reach in the run config's "
                "tools.mcp.allowed_hosts).",
                param=f"{at}[{index}].server_url",
                code="mcp_host_not_allowed",
            )


# ------------------------------------------------------------------------------------------ approvals
def _approval_requests(history_items: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in history_items if item.get("type") == "mcp_approval_request" and "id" in item}


def approvals_check(*, input_items: list[dict], history_items: list[dict], labels: set[str]) -> None:
    """Every `mcp_approval_response` of the input answers an approval request of the history, for an MCP tool the
    request gives again (its server and headers are needed to run the call): a 400 otherwise."""
    requests = _approval_requests(history_items)
    for index, item in enumerate(input_items):
        if item.get("type") != "mcp_approval_response":
            continue
        request = requests.get(item["approval_request_id"])
        param = f"input[{index}].approval_request_id"
        if request is None:
            raise BadRequestError(
                f"No MCP approval request found with id '{item['approval_request_id']}' in the history of this "
                "response (give the response that asked as 'previous_response_id', or its conversation).",
                param=param,
                code="mcp_approval_request_not_found",
            )
        if request["server_label"] not in labels:
            raise BadRequestError(
                f"The approval request '{item['approval_request_id']}' is for MCP server "
                f"'{request['server_label']}', which is not among this request's tools; give its mcp tool again.",
                param=param,
                code="invalid_value",
            )


# ------------------------------------------------------------------------------------------ the tool
def _filter_of(raw: Any) -> ToolFilter | None:
    return ToolFilter.model_validate(raw) if isinstance(raw, Mapping) else None


def call_output_text(result: dict) -> str:
    """An MCP tool result as text for the model (and for `mcp_call.output`): text blocks as they are, other
    blocks (images, resources) as JSON."""
    parts = []
    for block in result.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            parts.append(json.dumps(block, sort_keys=True))
    if not parts and result.get("structured_content") is not None:
        parts.append(json.dumps(result["structured_content"], sort_keys=True))
    return "\n".join(parts)


class McpServerTool(ServerTool):
    """One `mcp` tool of one response."""

    kind = "mcp"

    def __init__(
        self,
        spec: dict,
        *,
        headers: Mapping[str, str] | None = None,
        history_items: list[dict],
        input_items: list[dict],
        config: McpConfig | None = None,
    ) -> None:
        self._spec = spec
        self.label = spec["server_label"]
        config = config or tools_config().mcp
        self.server = McpServer(
            label=self.label,
            url=spec["server_url"],
            headers=dict(headers or {}),
            connect_timeout=config.connect_timeout,
            list_timeout=config.list_timeout,
            call_timeout=config.call_timeout,
        )
        allowed = spec.get("allowed_tools")
        self.allowed_names = set(allowed) if isinstance(allowed, list) else None
        self.allowed_filter = _filter_of(allowed)
        approval = spec.get("require_approval")
        self.approval = approval if isinstance(approval, str) else "always"
        self.approval_filter = ApprovalFilter.model_validate(approval) if isinstance(approval, Mapping) else None
        self.history_items = history_items
        self.input_items = input_items
        self.tools: list[dict] = []
        self.names: dict[str, dict] = {}  # chat function name -> MCP tool

    @classmethod
    def from_param(
        cls,
        param: McpToolParam,
        *,
        history_items: list[dict],
        input_items: list[dict],
        include: Collection[str] = (),
    ) -> McpServerTool:
        return cls(param.echo(), headers=param.secret_headers(), history_items=history_items, input_items=input_items)

    @classmethod
    def from_spec(cls, spec: dict, *, history_items: list[dict], input_items: list[dict]) -> McpServerTool:
        return cls(spec, history_items=history_items, input_items=input_items)

    def echo(self) -> dict:
        return dict(self._spec)

    def spec(self) -> dict:
        return dict(self._spec)

    # ------------------------------------------------------------------------------------------ rules
    def _allowed(self, tool: dict) -> bool:
        if self.allowed_names is not None:
            return tool["name"] in self.allowed_names
        return self.allowed_filter is None or self.allowed_filter.matches(tool)

    def needs_approval(self, tool: dict) -> bool:
        if self.approval_filter is None:
            return self.approval != "never"
        never = self.approval_filter.never
        return not (never is not None and never.matches(tool))

    # ------------------------------------------------------------------------------------------ prepare
    def _listed_before(self) -> list[dict] | None:
        for item in reversed(self.history_items):
            listing = item.get("type") == "mcp_list_tools" and item.get("server_label") == self.label
            if listing and not item.get("error"):
                return list(item.get("tools") or ())
        return None

    async def _list(self, out: ItemOutput) -> AsyncIterator[dict]:
        item = {"id": _item_id("mcpl"), "type": "mcp_list_tools", "server_label": self.label, "tools": []}
        yield out.add_item(item)
        yield out.item_event("response.mcp_list_tools.in_progress", item)
        try:
            self.tools = await mcp_client().list_tools(self.server)
        except McpError as exc:
            item["error"] = exc.message
            yield out.item_event("response.mcp_list_tools.failed", item)
            yield out.item_done(item)
            raise ToolSetupError(f"Error retrieving tool list from MCP server '{self.label}': {exc.message}") from None
        item["tools"] = self.tools
        yield out.item_event("response.mcp_list_tools.completed", item)
        yield out.item_done(item)

    async def prepare(self, out: ItemOutput, messages: list[dict]) -> AsyncIterator[dict]:
        listed = self._listed_before()
        if listed is None:
            async for event in self._list(out):
                yield event
        else:
            self.tools = listed
        async for event in self._approved(out, messages):
            yield event

    async def _approved(self, out: ItemOutput, messages: list[dict]) -> AsyncIterator[dict]:
        """Run (or decline) the calls this request's `mcp_approval_response` items answer, adding each call and
        its result to `messages` as the model will see them."""
        requests = _approval_requests(self.history_items)
        for answer in self.input_items:
            if answer.get("type") != "mcp_approval_response":
                continue
            request = requests.get(answer["approval_request_id"])
            if request is None or request["server_label"] != self.label:
                continue
            call_id = call_id_for(self.label, request["name"], request["arguments"])
            call = ToolCall(call_id=call_id, name=request["name"], arguments=request["arguments"])
            if answer.get("approve") is True:
                async for event in self._call(call, out, request["name"], approval_request_id=request["id"]):
                    yield event
            else:
                call.output = DECLINED
            function = {"name": request["name"], "arguments": request["arguments"]}
            called = {"id": call_id, "type": "function", "function": function}
            messages.append({"role": "assistant", "content": None, "tool_calls": [called]})
            messages.append({"role": "tool", "tool_call_id": call_id, "content": call.output or ""})

    # ------------------------------------------------------------------------------------------ functions
    def functions(self, taken: set[str]) -> dict[str, dict]:
        offered = {}
        for tool in self.tools:
            if not self._allowed(tool):
                continue
            name = tool["name"]
            if not FUNCTION_NAME_RE.match(name) or name in taken or name in offered:
                name = re.sub(r"[^a-zA-Z0-9_-]", "_", f"{self.label}__{tool['name']}")[:64]
            self.names[name] = tool
            function = {"name": name, "parameters": tool.get("input_schema") or {"type": "object"}}
            if tool.get("description"):
                function["description"] = tool["description"]
            offered[name] = {"type": "function", "function": function}
        return offered

    # ------------------------------------------------------------------------------------------ run
    async def run(self, call: ToolCall, out: ItemOutput) -> AsyncIterator[dict]:
        tool = self.names[call.name]
        if self.needs_approval(tool):
            item = {
                "id": _item_id("mcpr"),
                "type": "mcp_approval_request",
                "server_label": self.label,
                "name": tool["name"],
                "arguments": call.arguments,
            }
            yield out.add_item(item)
            yield out.item_done(item)
            call.stop = True
            return
        async for event in self._call(call, out, tool["name"]):
            yield event

    async def _call(
        self, call: ToolCall, out: ItemOutput, name: str, approval_request_id: str | None = None
    ) -> AsyncIterator[dict]:
        item: dict[str, Any] = {
            "id": _item_id("mcp"),
            "type": "mcp_call",
            "status": "in_progress",
            "server_label": self.label,
            "name": name,
            "arguments": "",
            "output": None,
            "error": None,
        }
        if approval_request_id:
            item["approval_request_id"] = approval_request_id
        yield out.add_item(item)
        item["arguments"] = call.arguments
        yield out.item_event("response.mcp_call_arguments.delta", item, delta=call.arguments)
        yield out.item_event("response.mcp_call_arguments.done", item, arguments=call.arguments)
        yield out.item_event("response.mcp_call.in_progress", item)
        output, error = await self._result(name, call.arguments)
        item.update(status="failed" if error else "completed", output=output, error=error)
        yield out.item_event("response.mcp_call.failed" if error else "response.mcp_call.completed", item)
        yield out.item_done(item)
        call.output = output if output is not None else _error_text(error)

    async def _result(self, name: str, arguments: str) -> tuple[str | None, dict | None]:
        """(output, None) or (None, the `mcp_call.error`)."""
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            message = f"The arguments for {name} are not a JSON object: {arguments[:200]!r}"
            return None, {"type": "mcp_protocol_error", "code": -32602, "message": message}
        try:
            result = await mcp_client().call_tool(self.server, name, parsed)
        except McpError as exc:
            return None, exc.error
        if result.get("is_error"):
            return None, {"type": "mcp_tool_execution_error", "content": result.get("content") or []}
        return call_output_text(result), None


def _error_text(error: dict | None) -> str:
    if not error:
        return ""
    if error.get("type") == "mcp_tool_execution_error":
        return "Error: " + call_output_text({"content": error.get("content")})
    return f"Error: {error.get('message')}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"
