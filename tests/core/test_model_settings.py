"""A prompt version's and a request's `tools`: every kind the server runs is accepted with its own schema (the
request's), and what a prompt version stores never holds a tool's secrets."""

from __future__ import annotations

import pytest

from apps.core.errors import BadRequestError
from apps.core.model_settings import ModelSettings, merged, settings_given
from apps.core.validation import validated

MCP = {
    "type": "mcp",
    "server_label": "docs",
    "server_url": "https://mcp.example.com/mcp",
    "allowed_tools": ["search"],
    "require_approval": "never",
}
FUNCTION = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}


def refusal(data: dict) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        settings_given(data)
    return caught.value


@pytest.mark.parametrize(
    "tool",
    [
        FUNCTION,
        {"type": "web_search"},
        {"type": "web_search", "filters": {"allowed_domains": ["python.org"]}, "search_context_size": "low"},
        {"type": "web_search_2025_08_26"},
        {"type": "web_search_preview", "search_content_types": ["text"]},
        {"type": "web_search_preview_2025_03_11", "user_location": {"type": "approximate", "city": "Oslo"}},
        MCP,
        {**MCP, "allowed_tools": {"tool_names": ["search"], "read_only": True}, "server_description": "Docs"},
    ],
    ids=lambda tool: tool["type"],
)
def test_a_version_may_hold_each_kind_of_tool(tool):
    stored = settings_given({"tools": [tool]})
    assert stored["tools"][0]["type"] == tool["type"]
    assert settings_given(stored) == stored  # the stored form is read back as it was written


def test_mcp_fields_are_stored_as_given():
    assert settings_given({"tools": [MCP]})["tools"] == [{**MCP, "server_description": None}]


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({**MCP, "headers": {"X-Key": "k"}}, "tools[0].headers"),
        ({**MCP, "authorization": "token"}, "tools[0].authorization"),
        ({"type": "mcp", "server_label": "docs", "authorization": "token"}, "tools[0].authorization"),
    ],
)
def test_a_version_holding_mcp_secrets_is_refused_naming_the_field(tool, param):
    error = refusal({"tools": [tool]})
    assert error.param == param
    assert "never stored at rest in prompts" in error.message


def test_the_secret_is_named_at_its_index():
    assert refusal({"tools": [FUNCTION, {**MCP, "headers": {"X": "y"}}]}).param == "tools[1].headers"


def test_a_request_may_give_mcp_secrets():
    settings = validated(ModelSettings, {"tools": [{**MCP, "authorization": "token"}]})
    assert settings.tools[0].authorization == "token"
    assert "authorization" not in settings.given()["tools"][0]  # what would be stored leaves them out


def test_an_unknown_kind_is_refused_with_the_supported_ones():
    error = refusal({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]})
    assert (error.param, error.code) == ("tools[0].type", "unsupported_tool")
    for kind in ("'function'", "'mcp'", "'web_search'", "'web_search_preview'"):
        assert kind in error.message


def test_a_tool_is_checked_by_its_kinds_schema():
    error = refusal({"tools": [{**MCP, "server_url": "ftp://mcp.example.com"}]})
    assert error.param == "tools[0].server_url"
    assert "expected an http or https URL" in error.message
    assert refusal({"tools": [{"type": "web_search_preview", "filters": {}}]}).param == "tools[0].filters"


def test_an_mcp_tool_without_url_or_secrets_misses_its_url():
    error = refusal({"tools": [{"type": "mcp", "server_label": "docs"}]})
    assert (error.param, error.code) == ("tools[0].server_url", "missing_required_parameter")


def test_the_host_allow_list_is_not_checked_when_a_version_is_saved():
    unlisted = {**MCP, "server_url": "https://not-allowed.example.net/mcp"}
    assert settings_given({"tools": [unlisted]})["tools"][0]["server_url"] == unlisted["server_url"]


def test_required_may_be_met_by_a_server_side_tool():
    assert settings_given({"tools": [{"type": "web_search"}], "tool_choice": "required"})["tool_choice"] == "required"


def test_a_named_choice_names_a_function():
    error = refusal({"tools": [MCP], "tool_choice": {"type": "function", "name": "search"}})
    assert error.param == "tool_choice.name"


def test_a_request_that_gives_tools_replaces_the_versions():
    stored = settings_given({"tools": [{"type": "web_search"}, MCP], "temperature": 0.2})
    request = validated(ModelSettings, {"tools": [FUNCTION]})
    used = merged(stored, request)
    assert [tool.type for tool in used.tools] == ["function"]
    assert used.temperature == 0.2
    assert [tool.type for tool in merged(stored, validated(ModelSettings, {})).tools] == ["web_search", "mcp"]
