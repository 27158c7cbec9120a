"""The search client against the fake provider over real HTTP: both providers' APIs, and each way a search fails,
always as one `WebSearchError` whose message names the provider and never holds the key."""

from __future__ import annotations

import pytest

from apps.tools.web_search import (
    HTTPWebSearch,
    SearchResult,
    WebSearchError,
    parse_web_search,
    web_search,
    web_search_client,
)
from tests.support.fake_search import KEY, FakeSearch, results_for
from tests.support.live_server import free_port

PROVIDERS = ("tavily", "brave")


@pytest.fixture(scope="module")
def fake():
    running = FakeSearch(free_port()).start()
    yield running
    running.stop()


def config(url: str, provider: str = "tavily", *, key: str = KEY, **extra):
    return parse_web_search({"provider": provider, "api_key": key, "base_url": url, **extra})


def expected(query: str, count: int) -> tuple[SearchResult, ...]:
    return tuple(SearchResult(r["title"], r["url"], r["content"]) for r in results_for(query, count))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_search_returns_the_providers_results(fake, provider):
    found = await web_search(query="django async views", config=config(fake.url, provider, max_results=3))
    assert found.query == "django async views"
    assert found.results == expected("django async views", 3)
    assert fake.requests[-1] == (provider, "django async views")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_results_is_an_empty_answer_not_an_error(fake, provider):
    found = await web_search(query="nothing at all #empty", config=config(fake.url, provider))
    assert found.results == ()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_results_are_plain_text(fake, provider):
    """Brave's HTML (escaped text, `<strong>` marks) is unmarked; Tavily's text is taken as it is."""
    found = await web_search(query="x<y & y>z", config=config(fake.url, provider, max_results=1))
    assert found.results[0].title == "Result 1 about x<y & y>z"
    assert found.results[0].content == "Snippet 1: what the web says about x<y & y>z."


async def test_the_default_client_class_is_the_http_one(fake):
    assert isinstance(web_search_client(config(fake.url)), HTTPWebSearch)


async def failure(provider: str, url: str, query: str, **extra) -> WebSearchError:
    with pytest.raises(WebSearchError) as caught:
        await web_search(query=query, config=config(url, provider, **extra))
    return caught.value


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wrong_key_is_an_auth_error_without_either_key(fake, provider):
    error = await failure(provider, fake.url, "anything", key="wrong-SECRET-key")
    assert error.code == "web_search_auth"
    assert f"provider '{provider}' refused the API key (HTTP 401)" in error.message
    assert "SECRET" not in error.message
    assert KEY not in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout(fake, provider):
    error = await failure(provider, fake.url, "patience #slow:3", timeout_seconds=0.2)
    assert error.code == "web_search_timeout"
    assert error.message == f"The web search provider '{provider}' did not answer within 0.2 s."


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_server_error(fake, provider):
    error = await failure(provider, fake.url, "boom #fail500")
    assert error.code == "web_search_http_error"
    assert error.message.startswith(f"The web search provider '{provider}' answered HTTP 500: ")
    assert "exploded" in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_body_that_is_not_json(fake, provider):
    error = await failure(provider, fake.url, "junk #garbage")
    assert error.code == "web_search_invalid_response"
    assert "not JSON" in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_json_of_the_wrong_shape(fake, provider):
    error = await failure(provider, fake.url, "odd #shape")
    assert error.code == "web_search_invalid_response"
    assert "not a search result list" in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_connection_refused(provider):
    error = await failure(provider, f"http://127.0.0.1:{free_port()}", "anyone there")
    assert error.code == "web_search_unreachable"
    assert error.message.startswith(f"The web search provider '{provider}' could not be reached")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_oversized_answer_is_not_read_to_the_end(fake, provider):
    error = await failure(provider, fake.url, "everything #huge")
    assert error.code == "web_search_invalid_response"
    assert error.message == f"The web search provider '{provider}' answered more than 4 MiB."


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_redirect_is_not_followed(fake, provider):
    error = await failure(provider, fake.url, "moved #redirect")
    assert error.code == "web_search_http_error"
    assert error.message == f"The web search provider '{provider}' answered HTTP 302: no details"


async def test_a_query_that_is_not_valid_text_is_refused_before_any_request(fake):
    before = len(fake.requests)
    error = await failure("tavily", fake.url, "lone \udc80 surrogate")
    assert error.code == "web_search_invalid_query"
    assert len(fake.requests) == before


async def test_empty_query_is_refused_before_any_request(fake):
    before = len(fake.requests)
    error = await failure("tavily", fake.url, "   ")
    assert error.code == "web_search_invalid_query"
    assert len(fake.requests) == before


async def test_a_key_the_provider_echoes_is_masked(fake):
    """A provider's error body is quoted; a key in it (here, the query is the key) is masked."""
    error = await failure("tavily", fake.url, f"{KEY} #fail500")
    assert KEY not in error.message
    assert "********" in error.message


def test_search_errors_are_502s_in_the_error_hierarchy():
    error = WebSearchError("x", code="web_search_timeout")
    assert (error.status_code, error.type) == (502, "upstream_error")
