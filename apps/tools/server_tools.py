"""Server-side tools in Responses: the tools stackadmin runs itself inside one `responses.create`.

The Responses service runs a *tool loop* (apps/responses/tool_loop.py): call the model; if it called functions
that a server-side tool offered, run them, give their results back as tool messages and call the model again;
stop when the model answers without calling one, when it calls a client (function) tool (the response then ends
with that `function_call` for the client, as OpenAI's does when function and server-side tools are mixed), when a
tool asks to stop (an MCP approval request), or when the round cap is reached (the run config's
`tools.max_rounds`, and the request's `max_tool_calls`; the last model call then gets `tool_choice: "none"`).

A kind of server-side tool is one `ServerTool` subclass, made by the service from one entry of the request's
`tools` (its `type`: `mcp`, `web_search` and its aliases). What a subclass implements:

- `from_param(param, history_items=, input_items=, include=)`: the tool for one response, from the request's
  validated tool object (its schema, a pydantic model with a `type` field, is the other half of its `TOOL_KINDS`
  entry), the items before this turn (a listing made earlier in the chain, an approval request), this turn's input
  items and the request's `include` (web search shows its sources only when asked).
- `echo()`: the tool as the response's `tools` shows it (never a secret: MCP `headers` are left out).
- `spec()`: the tool as a stored plan (a background response) keeps it; JSON, never a secret. `from_spec`
  makes the tool again in the process that runs the plan.
- `prepare(out, messages)`: an async generator of stream events, run once before the first model call. It may add
  output items through `out` (MCP lists the server's tools: an `mcp_list_tools` item, unless the response chain
  already holds one) and chat messages to `messages` (the calls an approval let through, run now, with their
  results). Raising `ToolSetupError` ends the response `failed` with that message (the items added so far stay
  in its output).
- `functions(taken)`: the chat-completion function definitions it offers the model, keyed by function name, none
  of them in `taken` (the names already used by client functions and earlier server-side tools).
- `run(call, out)`: an async generator of stream events that runs one `ToolCall` the model made to one of its
  functions, adding its output items through `out`, and sets `call.output` (the text the model gets back) or
  `call.stop` (the call is not run now: the response ends after this round, e.g. an `mcp_approval_request`).
  A failure of the outside world is reported in the tool's item and in `call.output`; it never raises.
- `annotations(text)` (optional; none by default): the annotations of an assistant message's output text once it
  is whole, e.g. web search's `url_citation`s of the sources its searches found.

`ItemOutput` is what a tool writes items and events through (the response builder implements it): every event
it returns carries the response's next sequence number; the tool yields the events in the order it got them.

Wiring a new kind: its request schema and `ServerTool` subclass in one `TOOL_KINDS` entry per `type` it answers
to (web search: `web_search`, `web_search_preview` and their dated aliases) and a `TOOL_SUMMARIES` line; the
Responses app's `ready()` registers the schemas with the model settings (`register_tool_schemas`), so a request's
and a prompt version's `tools` accept it (a schema's `SECRET_FIELDS` are refused in a prompt version). Then its
run-config section in `apps.tools.config`, and its checks before anything is stored or called (the Responses
service's `_check_server_tools`), which also run on a prompt version's tools when a response uses them.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from django.utils.module_loading import import_string

from apps.core.model_settings import register_tool_kinds


class ItemOutput(Protocol):
    """Where a server-side tool puts its output items, getting back the stream events that announce them."""

    def add_item(self, item: dict) -> dict:
        """Append `item` to the response's output: its `response.output_item.added` event."""

    def item_event(self, kind: str, item: dict, **fields: Any) -> dict:
        """An event about `item` (`item_id`, `output_index` and `fields`), e.g. `response.mcp_call.completed`."""

    def item_done(self, item: dict) -> dict:
        """`item` is final: its `response.output_item.done` event."""


@dataclass
class ToolCall:
    """One call the model made to a server-side tool's function, as the chat completion gave it."""

    call_id: str  # the chat tool call's id: the tool message answering it carries it
    name: str  # the chat function name (the tool maps it back to what it runs)
    arguments: str  # JSON text, as the model wrote it
    output: str | None = None  # set by `run`: what the model is told
    stop: bool = False  # set by `run`: the call waits for the client; the response ends after this round


def call_id_for(*parts: str) -> str:
    """A chat tool-call id for a call rebuilt from an item (an approved call, an `mcp_call` of a conversation): made
    from what the call is, so the same history is sent to the model the same way every time (item ids are random)."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return f"call_{digest[:24]}"


class ToolSetupError(Exception):
    """A server-side tool cannot be used for this response (its server cannot list its tools, ...): the response
    ends `failed` with this message."""

    def __init__(self, message: str, code: str = "server_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ServerTool(ABC):
    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_param(
        cls, param: Any, *, history_items: list[dict], input_items: list[dict], include: Collection[str] = ()
    ) -> ServerTool: ...

    @abstractmethod
    def echo(self) -> dict: ...

    @abstractmethod
    def spec(self) -> dict: ...

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: dict, *, history_items: list[dict], input_items: list[dict]) -> ServerTool: ...

    @abstractmethod
    def prepare(self, out: ItemOutput, messages: list[dict]) -> AsyncIterator[dict]: ...

    @abstractmethod
    def functions(self, taken: set[str]) -> dict[str, dict]: ...

    @abstractmethod
    def run(self, call: ToolCall, out: ItemOutput) -> AsyncIterator[dict]: ...

    def annotations(self, text: str) -> list[dict]:
        """The annotations this tool puts on an assistant message's whole output text (none by default)."""
        return []


# A request tool's `type` -> (its request schema, its ServerTool subclass), as dotted paths imported on use.
TOOL_KINDS: dict[str, tuple[str, str]] = {
    "mcp": ("apps.tools.mcp_tool.McpToolParam", "apps.tools.mcp_tool.McpServerTool"),
    **{
        kind: ("apps.tools.web_search_tool.WebSearchToolParam", "apps.tools.web_search_tool.WebSearchServerTool")
        for kind in ("web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11")
    },
}


# What the "not supported" message of `tools` says of each group of kinds (keyed by the group's first kind).
TOOL_SUMMARIES: dict[str, str] = {
    "mcp": "'mcp' (remote MCP servers, run by the server)",
    "web_search": "'web_search' and 'web_search_preview' (run by the server, when its operator configured a search "
    "provider)",
}


def register_tool_schemas() -> None:
    """Make the model settings' `tools` (a request's and a prompt version's) accept every kind of `TOOL_KINDS`, each
    validated by its request schema: apps.core cannot import this app, so the schemas are handed down to it."""
    groups: dict[str, list[str]] = {}
    for kind, (schema, _) in TOOL_KINDS.items():
        groups.setdefault(schema, []).append(kind)
    for schema, kinds in groups.items():
        register_tool_kinds(tuple(kinds), import_string(schema), summary=TOOL_SUMMARIES[kinds[0]])


def tool_class(kind: str) -> type[ServerTool]:
    return import_string(TOOL_KINDS[kind][1])


def tools_from_params(
    params: list[Any], *, history_items: list[dict], input_items: list[dict], include: Collection[str] = ()
) -> list[ServerTool]:
    """The server-side tools of a request, for one response."""
    return [
        tool_class(param.type).from_param(param, history_items=history_items, input_items=input_items, include=include)
        for param in params
    ]


def tools_from_specs(specs: list[dict], *, history_items: list[dict], input_items: list[dict]) -> list[ServerTool]:
    """The server-side tools of a stored plan, made again (`ServerTool.spec` wrote them)."""
    return [
        tool_class(spec["type"]).from_spec(spec, history_items=history_items, input_items=input_items) for spec in specs
    ]
