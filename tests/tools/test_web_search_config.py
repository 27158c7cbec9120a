"""The run config's `tools.web_search` section: what it accepts, and a path-naming error for each thing it does not."""

from __future__ import annotations

import pytest

from apps.core.config import ConfigError
from apps.tools.web_search import SearchProvider, WebSearchConfig, parse_web_search
from stackadmin.config import substitute_env

SECRET = "tvly-SECRET-0123456789"


def test_absent_section_means_no_web_search():
    assert parse_web_search(None) is None


def test_minimal_section_takes_the_providers_public_api_and_defaults():
    config = parse_web_search({"provider": "tavily", "api_key": SECRET})
    assert config == WebSearchConfig(
        provider=SearchProvider.TAVILY,
        api_key=SECRET,
        base_url="https://api.tavily.com",
        timeout_seconds=10.0,
        max_results=5,
    )


def test_brave_default_base_url():
    assert parse_web_search({"provider": "brave", "api_key": "k"}).base_url == "https://api.search.brave.com"


def test_full_section():
    config = parse_web_search(
        {
            "provider": "brave",
            "api_key": "k",
            "base_url": "https://search.example.com/proxy/",
            "timeout_seconds": 2.5,
            "max_results": 20,
        }
    )
    assert (config.base_url, config.timeout_seconds, config.max_results) == (
        "https://search.example.com/proxy",
        2.5,
        20,
    )


def test_key_from_the_environment_as_the_loader_substitutes_it():
    raw = substitute_env(
        {"provider": "tavily", "api_key": "${env.TAVILY_API_KEY}"}, "tools.web_search", {"TAVILY_API_KEY": SECRET}
    )
    assert parse_web_search(raw).api_key == SECRET


def test_loopback_http_is_allowed_for_a_local_stand_in():
    config = parse_web_search({"provider": "tavily", "api_key": "k", "base_url": "http://127.0.0.1:8398"})
    assert config.base_url == "http://127.0.0.1:8398"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["tavily"], "tools.web_search: must be a mapping"),
        ({"api_key": "k"}, "tools.web_search.provider: required field is missing"),
        ({"provider": "google", "api_key": "k"}, "tools.web_search.provider: "),
        ({"provider": "tavily"}, "tools.web_search.api_key: required field is missing"),
        ({"provider": "tavily", "api_key": ""}, "tools.web_search.api_key: must be a non-empty string"),
        ({"provider": "tavily", "api_key": 12345}, "tools.web_search.api_key: must be a non-empty string"),
        ({"provider": "tavily", "api_key": "k", "base_url": "ftp://x"}, "tools.web_search.base_url: must be an https"),
        ({"provider": "tavily", "api_key": "k", "base_url": "not a url"}, "tools.web_search.base_url: must be an"),
        (
            {"provider": "tavily", "api_key": "k", "base_url": "http://search.example.com"},
            "tools.web_search.base_url: must be an https URL; plain http is allowed on loopback only",
        ),
        (
            {"provider": "tavily", "api_key": "k", "base_url": "https://u:p@search.example.com"},
            "tools.web_search.base_url: must not carry credentials",
        ),
        (
            {"provider": "tavily", "api_key": "k", "base_url": "https://search.example.com?key=1"},
            "tools.web_search.base_url: must not carry credentials, a query",
        ),
        ({"provider": "tavily", "api_key": "k", "timeout_seconds": 0}, "tools.web_search.timeout_seconds: "),
        ({"provider": "tavily", "api_key": "k", "timeout_seconds": "soon"}, "tools.web_search.timeout_seconds: "),
        ({"provider": "tavily", "api_key": "k", "max_results": 0}, "tools.web_search.max_results: "),
        ({"provider": "tavily", "api_key": "k", "max_results": 21}, "tools.web_search.max_results: "),
        ({"provider": "tavily", "api_key": "k", "results": 3}, "tools.web_search.results: unknown field"),
    ],
)
def test_each_mistake_names_its_path(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_web_search(raw)
    assert str(caught.value).startswith(message)


def test_the_path_is_the_callers():
    with pytest.raises(ConfigError, match=r"^run\.tools\.web_search\.max_results: "):
        parse_web_search({"provider": "tavily", "api_key": "k", "max_results": -1}, "run.tools.web_search")


def test_a_malformed_key_is_not_quoted_in_the_error():
    with pytest.raises(ConfigError) as caught:
        parse_web_search({"provider": "tavily", "api_key": ["tvly-SECRET-in-a-list"]})
    assert "SECRET" not in str(caught.value)


def test_the_key_is_neither_in_the_repr_nor_in_the_redacted_view():
    config = parse_web_search({"provider": "tavily", "api_key": SECRET})
    assert SECRET not in repr(config)
    assert config.redacted() == {
        "provider": "tavily",
        "api_key": "********",
        "base_url": "https://api.tavily.com",
        "timeout_seconds": 10.0,
        "max_results": 5,
    }
