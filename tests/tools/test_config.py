"""The run config's `tools` section (apps/tools/config.py), through the loader every process uses."""

from __future__ import annotations

import pytest

from apps.core.config import ConfigError
from apps.tools.config import DEFAULT_MAX_ROUNDS
from stackadmin.config import parse_config


def tools(raw) -> object:
    return parse_config({"tools": raw}, source="test", home="/tmp/unused").tools


def test_defaults_leave_mcp_off():
    config = parse_config({}, source="test", home="/tmp/unused").tools
    assert config.max_rounds == DEFAULT_MAX_ROUNDS
    assert config.web_search is None
    assert config.mcp.allowed_hosts == ()
    assert not config.mcp.allows("127.0.0.1", None)


def test_hosts_with_and_without_a_port():
    mcp = tools({"mcp": {"allowed_hosts": ["MCP.example.com", "127.0.0.1:8931", "[::1]:9000"]}}).mcp
    assert mcp.allows("mcp.example.com", 443)
    assert mcp.allows("mcp.example.com", None)
    assert mcp.allows("127.0.0.1", 8931)
    assert not mcp.allows("127.0.0.1", 8932)
    assert not mcp.allows("127.0.0.1", None)
    assert mcp.allows("::1", 9000)
    assert not mcp.allows("example.com", 443)


def test_timeouts_and_rounds():
    config = tools({"max_rounds": 4, "mcp": {"connect_timeout": 1, "list_timeout": 2.5, "call_timeout": 90}})
    assert (config.max_rounds, config.mcp.connect_timeout, config.mcp.list_timeout) == (4, 1.0, 2.5)
    assert config.mcp.call_timeout == 90.0


def test_web_search_is_read_by_its_own_parser():
    config = tools({"web_search": {"provider": "brave", "api_key": "k", "max_results": 3}}).web_search
    assert (str(config.provider), config.base_url, config.max_results) == ("brave", "https://api.search.brave.com", 3)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"file_search": {}}, "tools.file_search: unknown field"),
        ({"mcp": {"allowed_host": []}}, "tools.mcp.allowed_host: unknown field"),
        ({"mcp": {"allowed_hosts": "127.0.0.1"}}, "tools.mcp.allowed_hosts: must be a list"),
        ({"mcp": {"allowed_hosts": ["http://x/"]}}, "tools.mcp.allowed_hosts[0]:"),
        ({"mcp": {"allowed_hosts": ["x:y"]}}, "tools.mcp.allowed_hosts[0]: the port"),
        ({"mcp": {"call_timeout": 0}}, "tools.mcp.call_timeout: must be a number of seconds > 0"),
        ({"max_rounds": 0}, "tools.max_rounds: must be a whole number"),
        ({"web_search": {"provider": "bing", "api_key": "k"}}, "tools.web_search.provider"),
        ({"web_search": {"provider": "tavily"}}, "tools.web_search.api_key"),
        ({"web_search": "tavily"}, "tools.web_search: must be a mapping"),
        ({"max_rounds": True}, "tools.max_rounds: must be a whole number"),
        ([], "tools: must be a mapping"),
    ],
)
def test_mistakes_name_their_path(raw, path):
    with pytest.raises(ConfigError) as caught:
        tools(raw)
    assert str(caught.value).startswith(path)
