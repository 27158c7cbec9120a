"""A client for remote MCP servers (the official `mcp` SDK), as Responses' `mcp` tools use them.

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

Which client class serves requests is the setting `STACKADMIN_MCP_CLIENT_CLASS` (this module's `SdkMcpClient` by
default; the tests name one that records and replays, tests/support/mcp_recording.py), built once per process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import PaginatedRequestParams

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


def _leaf(exc: BaseException) -> BaseException:
    """The first exception that is not a group (the SDK's task groups wrap what failed)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _mcp_error(exc: BaseException, server: McpServer, seconds: float) -> McpError:
    """What went wrong, as an `McpError` whose message names the server (never its headers)."""
    exc = _leaf(exc)
    if isinstance(exc, McpError):
        return exc
    if isinstance(exc, TimeoutError | httpx2.TimeoutException):
        return McpError("http_error", TIMEOUT_ERROR, f"MCP server {server.where} did not answer within {seconds:g} s")
    if isinstance(exc, httpx2.HTTPStatusError):
        status = exc.response.status_code
        return McpError("http_error", status, f"MCP server {server.where} answered HTTP {status}")
    if isinstance(exc, httpx2.TransportError | OSError):
        return McpError("http_error", GATEWAY_ERROR, f"Could not reach MCP server {server.where}: {exc or type(exc)}")
    if isinstance(exc, MCPError):
        return McpError("mcp_protocol_error", exc.code, exc.message or f"MCP error {exc.code}")
    return McpError(
        "mcp_protocol_error", INVALID_REPLY, f"MCP server {server.where} sent a reply that is not valid MCP: {exc}"
    )


def _json(model: Any) -> dict:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _tool_json(tool: Any) -> dict:
    annotations = _json(tool.annotations) if tool.annotations else None
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "annotations": annotations,
    }


class _Statuses:
    """The HTTP error statuses a session's requests got: the streamable HTTP transport turns them into a JSON-RPC
    error without the status, which is what the caller needs to know (a 401 is a wrong key)."""

    def __init__(self) -> None:
        self.error: int | None = None

    async def hook(self, response: httpx2.Response) -> None:
        # Not the optional ones: a server may refuse the listening GET stream (405) and the closing DELETE.
        optional = response.request.method == "DELETE" or (
            response.request.method == "GET" and response.status_code == 405
        )
        if response.status_code >= 400 and self.error is None and not optional:
            self.error = response.status_code


class SdkMcpClient:
    """MCP over streamable HTTP or SSE with the official SDK."""

    @asynccontextmanager
    async def _session(self, server: McpServer, seconds: float, statuses: _Statuses):
        def http_client(headers=None, timeout=None, auth=None) -> httpx2.AsyncClient:
            """The SDK's client settings (no redirects followed but within the origin), and our status hook."""
            return httpx2.AsyncClient(
                headers=headers, timeout=timeout, auth=auth, event_hooks={"response": [statuses.hook]}
            )

        headers = dict(server.headers)
        if server.uses_sse:
            transport = sse_client(
                server.url,
                headers=headers,
                timeout=server.connect_timeout,
                sse_read_timeout=seconds,
                httpx_client_factory=http_client,
            )
        else:
            http = http_client(headers=headers, timeout=httpx2.Timeout(server.connect_timeout, read=seconds))
            transport = streamable_http_client(server.url, http_client=http)
        async with transport as (read, write), ClientSession(read, write, read_timeout_seconds=seconds) as session:
            await session.initialize()
            yield session

    async def _run(self, server: McpServer, seconds: float, operation) -> Any:
        statuses = _Statuses()
        try:
            async with asyncio.timeout(seconds), self._session(server, seconds, statuses) as session:
                return await operation(session)
        except Exception as exc:  # the SDK's task groups raise exception groups
            if statuses.error is not None and not isinstance(_leaf(exc), TimeoutError):
                status = statuses.error
                raise McpError("http_error", status, f"MCP server {server.where} answered HTTP {status}") from None
            raise _mcp_error(exc, server, seconds) from None

    async def list_tools(self, server: McpServer) -> list[dict]:
        async def listed(session: ClientSession) -> list[dict]:
            tools, cursor = [], None
            while True:
                page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
                tools += [_tool_json(tool) for tool in page.tools]
                cursor = page.next_cursor
                if not cursor:
                    return tools

        return await self._run(server, server.list_timeout, listed)

    async def call_tool(self, server: McpServer, name: str, arguments: dict) -> dict:
        async def called(session: ClientSession) -> dict:
            result = await session.call_tool(name, arguments)
            return {
                "content": [_json(block) for block in result.content],
                "is_error": bool(result.is_error),
                "structured_content": result.structured_content,
            }

        return await self._run(server, server.call_timeout, called)


class _Clients(RunConfigHandler[str, McpClient]):
    setting_names = frozenset({"STACKADMIN_MCP_CLIENT_CLASS"})

    def create(self, key: str) -> McpClient:
        return import_string(key)()


_clients = _Clients()


def mcp_client() -> McpClient:
    """This process's MCP client, of the class `STACKADMIN_MCP_CLIENT_CLASS` names."""
    return _clients[settings.STACKADMIN_MCP_CLIENT_CLASS]
