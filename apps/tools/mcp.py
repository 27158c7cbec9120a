"""Reaching remote MCP servers, as Responses' `mcp` tools do: what a server is, what can go wrong, which client.

Two operations, each its own MCP session (connect, `initialize`, the request, close): `list_tools` and
`call_tool`. A session per operation costs a handshake, but holds no connection across a model call (which may take
minutes) and keeps each operation's timeout whole. The transport follows the URL, as servers publish it: a path
ending in `/sse` is the older SSE transport (`GET` the event stream, `POST` messages to the endpoint it names);
anything else is the streamable HTTP transport. The SDK follows a redirect only within the server's origin, so a
server cannot send us to an address the operator did not allow.

`headers` (an `Authorization`, ...) are sent with every HTTP request of the session and are nowhere else: not
logged, not in an error message, not in `repr(McpServer)`.

Everything the outside world can do wrong (no answer, an HTTP error status, a JSON-RPC error, a reply that is not
valid MCP, a timeout) is one `McpError` carrying the OpenAI error shape of an `mcp_call` (`http_error` with the
status, `mcp_protocol_error` with the JSON-RPC code). A tool that ran and failed is not an error here: its result
has `is_error: true`.

Which client class serves requests is the setting `STACKADMIN_MCP_CLIENT_CLASS` (`apps.tools.mcp_sdk.SdkMcpClient`,
the official `mcp` SDK's, by default; the tests name one that records and replays, tests/support/mcp_recording.py),
built once per process on first use. The SDK lives in its own module so that it is imported only then: it costs a
worker process about 0.5 s and 28 MB, and MCP is off unless the operator allows hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.handlers import RunConfigHandler

GATEWAY_ERROR = 502  # the `http_error` code of a server that could not be reached
TIMEOUT_ERROR = 504  # ... and of one that did not answer in time
INVALID_REPLY = -32603  # the `mcp_protocol_error` code of a reply that is not valid MCP (JSON-RPC internal error)


@dataclass(frozen=True)
class McpServer:
    """Where and how to reach one MCP server for one response."""

    label: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    connect_timeout: float = 10.0
    list_timeout: float = 30.0
    call_timeout: float = 60.0

    @property
    def uses_sse(self) -> bool:
        return urlsplit(self.url).path.rstrip("/").endswith("/sse")

    @property
    def where(self) -> str:
        """The server as messages name it: its origin and path (never a query, which may hold a key)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class McpError(Exception):
    """The MCP server could not do what was asked; `error` is the `mcp_call.error` OpenAI's API would show."""

    def __init__(self, kind: str, code: int, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message

    @property
    def error(self) -> dict:
        return {"type": self.kind, "code": self.code, "message": self.message}


class McpClient(Protocol):
    async def list_tools(self, server: McpServer) -> list[dict]:
        """The server's tools: `{name, description, input_schema, annotations}` each."""

    async def call_tool(self, server: McpServer, name: str, arguments: dict) -> dict:
        """The tool's result: `{content: [...], is_error: bool, structured_content: ...}` (MCP's, as JSON)."""


class _Clients(RunConfigHandler[str, McpClient]):
    setting_names = frozenset({"STACKADMIN_MCP_CLIENT_CLASS"})

    def create(self, key: str) -> McpClient:
        return import_string(key)()


_clients = _Clients()


def mcp_client() -> McpClient:
    """This process's MCP client, of the class `STACKADMIN_MCP_CLIENT_CLASS` names."""
    return _clients[settings.STACKADMIN_MCP_CLIENT_CLASS]
