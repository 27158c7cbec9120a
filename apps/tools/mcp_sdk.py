"""The MCP client on the official `mcp` SDK: streamable HTTP, or SSE when the URL's path ends in `/sse` (see
apps/tools/mcp.py for what it promises: one session per operation, headers sent and nowhere else, every failure of
the outside world one `McpError`)."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import PaginatedRequestParams

from apps.tools.mcp import GATEWAY_ERROR, INVALID_REPLY, TIMEOUT_ERROR, McpError, McpServer


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
