"""A real MCP server for the tests (the `mcp` SDK's own server, `MCPServer`), on loopback: the outside world that
Responses' `mcp` tools reach.

Its tools answer deterministically, so recordings made against it replay exactly:

- `add(a, b)`: the sum, as text; marked read-only (`readOnlyHint`).
- `echo(text)`: the text back.
- `slow_echo(text, seconds)`: the text back after `seconds` (a tool call that takes a while: for timeouts).
- `explode()`: always fails (the SDK reports it as a result with `isError: true`).

One server object is served twice, on two ports: streamable HTTP at `/mcp`, and the older SSE transport at
`/sse`. `/broken/mcp` (on the first port) is a server that misbehaves: it answers every request 200 with a JSON
body that does not parse. With `token` set, every other request must carry `Authorization: Bearer <token>` (else
HTTP 401), so a test sees the headers it gave were sent.
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from tests.support.live_server import free_port
from tests.support.loopback import LoopbackServer


def build_server() -> MCPServer:
    server = MCPServer("stackadmin-tests")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> str:
        """Add two whole numbers."""
        return str(a + b)

    @server.tool()
    def echo(text: str) -> str:
        """Say the text back."""
        return text

    @server.tool()
    async def slow_echo(text: str, seconds: float = 1.0) -> str:
        """Say the text back, after a while."""
        await asyncio.sleep(seconds)
        return text

    @server.tool()
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("the explode tool always fails")

    return server


async def _broken(send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{this is not json"})


def _guarded(app, token: str | None):
    """The app, answering 401 to a request without the bearer token (when one is set), and garbage under
    `/broken/`."""
    expected = f"Bearer {token}".encode() if token else None

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/broken/"):
            await _broken(send)
            return
        if expected and scope["type"] == "http" and dict(scope.get("headers") or ()).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"missing or wrong token"})
            return
        await app(scope, receive, send)

    return guarded


# The token the guarded test server wants (`McpTestServer(token=GUARD_TOKEN)`); tests check it is stored nowhere.
GUARD_TOKEN = "mcp-secret-token-4f1c9e"


class McpTestServer:
    """The test MCP server on two loopback ports, or (`running=False`) the URLs of ports nobody listens on, so a
    replayed test that still reached out would fail."""

    def __init__(self, *, running: bool = True, token: str | None = None) -> None:
        self.http_port, self.sse_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}/mcp"
        self.sse_url = f"http://127.0.0.1:{self.sse_port}/sse"
        self.broken_url = f"http://127.0.0.1:{self.http_port}/broken/mcp"
        self.running = running
        self._served: list[LoopbackServer] = []
        if running:
            server = build_server()
            for app, port in ((server.streamable_http_app(), self.http_port), (server.sse_app(), self.sse_port)):
                what = "the MCP test server"
                served = LoopbackServer(_guarded(app, token), port, what=what, thread_name=f"mcp-server-{port}")
                self._served.append(served.start())

    def stop(self) -> None:
        for served in self._served:
            served.stop()
        self._served = []
        self.running = False
