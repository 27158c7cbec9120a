"""Record and replay of the MCP sessions stackadmin opens (list tools, call a tool), beside the model calls'
recorder (tests/support/recording.py), with its modes, environment variables and file layout.

A server the tests start runs with `STACKADMIN_MCP_CLIENT_CLASS=tests.support.mcp_recording.EnvRecordingMcpClient`;
`STACKADMIN_TEST_INFERENCE_MODE` and `STACKADMIN_TEST_RECORDING_DIR` select the mode and directory as for model
calls (`live`, `record`, `replay`, `record-if-missing`). In `replay` no MCP server needs to run: a session without
its recording fails with an error naming the file it looked for (`RecordingNotFoundError`, which ends the response
as a failure of the outside world, never as a tool result the model could be fed).

One JSON file per distinct request: `mcp-tools-list-<hash>.json` and `mcp-tools-call-<hash>.json`, the hash over
the server label, the URL's path and transport (not its host and port: recordings made against a server on a
random port replay anywhere), and for a call the tool's name and arguments. Headers are neither hashed nor written.
A server's failure is recorded as the `McpError` it was, and replayed as one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.tools.mcp import McpError, McpServer
from apps.tools.mcp_sdk import SdkMcpClient
from tests.support.recording import Recorder, recorder_settings, recording_path

MCP_CLIENT_CLASS = "tests.support.mcp_recording.EnvRecordingMcpClient"


def _key(server: McpServer, **extra: object) -> dict:
    return {
        "server_label": server.label,
        "path": urlsplit(server.url).path,
        "transport": "sse" if server.uses_sse else "streamable_http",
        **extra,
    }


class RecordingMcpClient(Recorder):
    """Wraps an MCP client (apps.tools.mcp) with one of the recording modes."""

    how_to_record = " (the tests start the MCP server)"
    failure = McpError

    def _failure_record(self, exc: Exception) -> dict:
        return exc.error

    def _failure_from_record(self, record: dict) -> Exception:
        return McpError(record["type"], record["code"], record["message"])

    async def _recorded(self, endpoint: str, key: dict, what: str, call):
        path = recording_path(self.directory, "POST", endpoint, key)
        return await self._answer(path, key, self._load(path, f"MCP {what}"), call)

    async def list_tools(self, server: McpServer) -> list[dict]:
        key = _key(server)
        what = f"tools/list of server '{server.label}'"
        return await self._recorded("/mcp/tools/list", key, what, lambda: self.inner.list_tools(server))

    async def call_tool(self, server: McpServer, name: str, arguments: dict) -> dict:
        key = _key(server, name=name, arguments=arguments)
        what = f"tools/call {name} of server '{server.label}'"
        return await self._recorded("/mcp/tools/call", key, what, lambda: self.inner.call_tool(server, name, arguments))


class EnvRecordingMcpClient:
    """What `MCP_CLIENT_CLASS` names: the SDK client behind a recorder in the mode and directory the environment
    gives (none in `live`)."""

    def __init__(self) -> None:
        mode, directory = recorder_settings()
        client = SdkMcpClient()
        self.client = client if mode == "live" else RecordingMcpClient(client, mode=mode, directory=directory)

    async def list_tools(self, server: McpServer) -> list[dict]:
        return await self.client.list_tools(server)

    async def call_tool(self, server: McpServer, name: str, arguments: dict) -> dict:
        return await self.client.call_tool(server, name, arguments)
