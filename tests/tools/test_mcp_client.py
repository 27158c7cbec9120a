"""The SDK-based MCP client (apps/tools/mcp.py) against the `mcp` SDK's own server on loopback, always (the
Responses tests replay MCP sessions in CI; these run the real client every time)."""

from __future__ import annotations

import pytest

from apps.tools.mcp import GATEWAY_ERROR, TIMEOUT_ERROR, McpError, McpServer
from apps.tools.mcp_sdk import SdkMcpClient
from tests.support.live_server import free_port
from tests.support.mcp_server import McpTestServer

TOKEN = "client-test-token"


@pytest.fixture(scope="module")
def mcp():
    server = McpTestServer(token=TOKEN)
    yield server
    server.stop()


def at(url: str, **fields) -> McpServer:
    return McpServer(label="t", url=url, headers={"Authorization": f"Bearer {TOKEN}"}, **fields)


async def test_lists_and_calls_over_streamable_http(mcp):
    client = SdkMcpClient()
    tools = await client.list_tools(at(mcp.url))
    assert [tool["name"] for tool in tools] == ["add", "echo", "slow_echo", "explode"]
    assert tools[0]["annotations"] == {"readOnlyHint": True}
    result = await client.call_tool(at(mcp.url), "add", {"a": 40, "b": 2})
    assert result["content"] == [{"type": "text", "text": "42"}]
    assert result["is_error"] is False


async def test_over_sse(mcp):
    result = await SdkMcpClient().call_tool(at(mcp.sse_url), "echo", {"text": "sse"})
    assert result["content"][0]["text"] == "sse"


async def test_a_failing_tool_is_a_result_with_is_error(mcp):
    result = await SdkMcpClient().call_tool(at(mcp.url), "explode", {})
    assert result["is_error"] is True
    assert "explode" in result["content"][0]["text"]


@pytest.mark.parametrize("transport", ["url", "sse_url"])
async def test_without_the_token_it_is_an_http_401(mcp, transport):
    with pytest.raises(McpError) as caught:
        await SdkMcpClient().list_tools(McpServer(label="t", url=getattr(mcp, transport)))
    assert caught.value.error["type"] == "http_error"
    assert caught.value.code == 401


async def test_an_unreachable_server():
    with pytest.raises(McpError) as caught:
        await SdkMcpClient().list_tools(at(f"http://127.0.0.1:{free_port()}/mcp"))
    assert caught.value.code == GATEWAY_ERROR
    assert "Could not reach MCP server" in caught.value.message


async def test_a_server_that_does_not_speak_mcp(mcp):
    with pytest.raises(McpError) as caught:
        await SdkMcpClient().list_tools(at(mcp.broken_url))
    assert caught.value.kind == "mcp_protocol_error"


async def test_a_call_slower_than_its_timeout(mcp):
    with pytest.raises(McpError) as caught:
        await SdkMcpClient().call_tool(at(mcp.url, call_timeout=1), "slow_echo", {"text": "x", "seconds": 5})
    assert caught.value.code == TIMEOUT_ERROR
    assert "did not answer within 1 s" in caught.value.message


def test_messages_never_show_the_url_userinfo_or_query():
    server = McpServer(label="t", url="https://user:pw@mcp.example.com/mcp?key=secret", headers={"A": "hdr-value"})
    assert server.where == "https://mcp.example.com/mcp"
    assert "hdr-value" not in repr(server)
