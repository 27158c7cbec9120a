"""The `mcp` tool's own rules (apps/tools/mcp_tool.py): what it keeps of a request, which calls need approval, what
the model is offered. The tool loop with a real MCP server is tested in tests/responses/test_mcp_tools.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from apps.tools.config import McpConfig
from apps.tools.mcp_tool import McpServerTool, McpToolParam, call_output_text
from apps.tools.server_tools import tools_from_specs

ADD = {"name": "add", "input_schema": {"type": "object"}, "annotations": {"readOnlyHint": True}, "description": "+"}
RM = {"name": "rm.rf", "input_schema": {"type": "object"}, "annotations": None, "description": None}


def param(**fields) -> McpToolParam:
    return McpToolParam.model_validate(
        {"type": "mcp", "server_label": "files", "server_url": "https://mcp.example.com/mcp", **fields}
    )


def tool(**fields) -> McpServerTool:
    made = McpServerTool.from_param(param(**fields), history_items=[], input_items=[])
    made.tools = [ADD, RM]
    return made


def test_secrets_are_used_but_never_kept_in_the_spec_or_echo():
    made = McpServerTool.from_param(
        param(headers={"X-Key": "k1"}, authorization="tok"), history_items=[], input_items=[]
    )
    assert dict(made.server.headers) == {"X-Key": "k1", "Authorization": "Bearer tok"}
    assert "k1" not in repr(made.server)
    for shown in (made.spec(), made.echo()):
        assert "headers" not in shown
        assert "authorization" not in shown
    (again,) = tools_from_specs([made.spec()], history_items=[], input_items=[])
    assert (again.label, again.server.url, dict(again.server.headers)) == ("files", made.server.url, {})


def test_approval_defaults_to_always():
    assert tool().needs_approval(ADD)
    assert not tool(require_approval="never").needs_approval(RM)


def test_per_tool_approval_by_name_or_read_only():
    by_name = tool(require_approval={"never": {"tool_names": ["rm.rf"]}})
    assert not by_name.needs_approval(RM)
    assert by_name.needs_approval(ADD)
    read_only = tool(require_approval={"never": {"read_only": True}, "always": {"tool_names": ["rm.rf"]}})
    assert not read_only.needs_approval(ADD)
    assert read_only.needs_approval(RM)


def test_offered_functions_keep_valid_free_names_and_rename_the_rest():
    offered = tool().functions(taken={"add"})
    assert sorted(offered) == ["files__add", "files__rm_rf"]
    assert offered["files__add"]["function"]["description"] == "+"
    assert sorted(tool().functions(taken=set())) == ["add", "files__rm_rf"]


def test_allowed_tools_by_name_or_filter():
    assert list(tool(allowed_tools=["rm.rf"]).functions(taken=set())) == ["files__rm_rf"]
    assert list(tool(allowed_tools={"read_only": True}).functions(taken=set())) == ["add"]


def test_a_listing_earlier_in_the_history_is_used_again():
    listing = {"type": "mcp_list_tools", "server_label": "files", "tools": [ADD], "id": "mcpl_1"}
    failed = {"type": "mcp_list_tools", "server_label": "files", "tools": [], "error": "down", "id": "mcpl_2"}
    other = {"type": "mcp_list_tools", "server_label": "other", "tools": [RM], "id": "mcpl_3"}
    made = McpServerTool.from_param(param(), history_items=[listing, failed, other], input_items=[])
    assert made._listed_before() == [ADD]
    assert McpServerTool.from_param(param(), history_items=[failed], input_items=[])._listed_before() is None


def test_call_output_as_text():
    result = {"content": [{"type": "text", "text": "one"}, {"type": "image", "data": "AA==", "mimeType": "image/png"}]}
    assert call_output_text(result) == 'one\n{"data": "AA==", "mimeType": "image/png", "type": "image"}'
    assert call_output_text({"content": [], "structured_content": {"n": 1}}) == '{"n": 1}'


def test_timeouts_come_from_the_config():
    made = McpServerTool(param().echo(), history_items=[], input_items=[], config=McpConfig(call_timeout=3.5))
    assert made.server.call_timeout == 3.5


@pytest.mark.parametrize(
    "url",
    ["https://user:pw@mcp.example.com/mcp", "http://evil.example\\@127.0.0.1/mcp", "http://127.0.0.1@evil.example/mcp"],
)
def test_a_server_url_carrying_credentials_or_a_backslash_before_its_host_is_refused(url):
    with pytest.raises(ValidationError) as caught:
        param(server_url=url)
    assert "not in the URL" in str(caught.value)
