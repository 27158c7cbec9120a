"""What the tool loop gives the model (the function, the tool result) and the caller (the `web_search_call` item)."""

from __future__ import annotations

import json

import pytest
from openai.types.responses import ResponseFunctionWebSearch

from apps.tools.web_search import (
    SOURCES_INCLUDE,
    SearchResult,
    SearchResults,
    WebSearchError,
    sources_of,
    web_search_call_item,
    web_search_call_output,
    web_search_error_result,
    web_search_query,
    web_search_tool,
    web_search_tool_result,
)

RESULTS = SearchResults(
    query="python 3.13 release",
    results=(
        SearchResult("What's new in Python 3.13", "https://docs.python.org/3/whatsnew/3.13.html", "Free-threaded."),
        SearchResult("Python release schedule", "https://peps.python.org/pep-0719/", ""),
    ),
)


def test_the_function_offered_to_the_model():
    tool = web_search_tool()
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "web_search"
    assert tool["function"]["parameters"] == {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to search the web for."}},
        "required": ["query"],
        "additionalProperties": False,
    }


def test_the_query_from_the_models_arguments():
    assert web_search_query(json.dumps({"query": "django 5.2"})) == "django 5.2"


@pytest.mark.parametrize("arguments", ["", "{}", "not json", '{"query": ""}', '{"query": 3}', '["query"]'])
def test_arguments_without_a_query(arguments):
    with pytest.raises(WebSearchError) as caught:
        web_search_query(arguments)
    assert caught.value.code == "web_search_invalid_query"


def test_tool_result_numbers_the_sources_and_asks_for_url_citations():
    assert web_search_tool_result(RESULTS) == (
        "Web search results for 'python 3.13 release':\n"
        "\n"
        "[1] What's new in Python 3.13\n"
        "URL: https://docs.python.org/3/whatsnew/3.13.html\n"
        "Free-threaded.\n"
        "\n"
        "[2] Python release schedule\n"
        "URL: https://peps.python.org/pep-0719/\n"
        "\n"
        "Answer from these sources. Cite each source you use with a markdown link to its exact URL, "
        "like [title](URL)."
    )


def test_tool_result_of_an_empty_search():
    assert web_search_tool_result(SearchResults("zzqx")) == "The web search for 'zzqx' found nothing."


def test_tool_result_of_a_failed_search():
    error = WebSearchError("The web search provider 'tavily' did not answer within 10 s.", code="web_search_timeout")
    assert web_search_error_result(error) == (
        "The web search failed: The web search provider 'tavily' did not answer within 10 s."
    )


def test_completed_item_keeps_its_sources_for_storage():
    item = web_search_call_item(query="python 3.13 release", results=RESULTS, item_id="ws_1")
    assert item == {
        "type": "web_search_call",
        "id": "ws_1",
        "status": "completed",
        "action": {
            "type": "search",
            "query": "python 3.13 release",
            "sources": [
                {"type": "url", "url": "https://docs.python.org/3/whatsnew/3.13.html"},
                {"type": "url", "url": "https://peps.python.org/pep-0719/"},
            ],
        },
    }


def test_item_ids_are_fresh_ws_ids():
    first = web_search_call_item(query="q", results=RESULTS)["id"]
    second = web_search_call_item(query="q", results=RESULTS)["id"]
    assert first.startswith("ws_")
    assert first != second


def test_output_has_sources_only_when_included():
    item = web_search_call_item(query="python 3.13 release", results=RESULTS, item_id="ws_1")
    plain = web_search_call_output(item)
    assert plain["action"] == {"type": "search", "query": "python 3.13 release"}
    assert web_search_call_output(item, include=[SOURCES_INCLUDE]) == item
    assert "sources" in item["action"]  # the stored item is not changed


def test_failed_item():
    item = web_search_call_item(query="boom", results=None, item_id="ws_2")
    assert item == {
        "type": "web_search_call",
        "id": "ws_2",
        "status": "failed",
        "action": {"type": "search", "query": "boom"},
    }
    assert web_search_call_output(item, include=[SOURCES_INCLUDE]) == item


@pytest.mark.parametrize("include", [(), (SOURCES_INCLUDE,)])
def test_items_are_what_the_openai_sdk_reads(include):
    item = web_search_call_output(web_search_call_item(query="q", results=RESULTS), include=include)
    parsed = ResponseFunctionWebSearch.model_validate(item)
    assert parsed.action.query == "q"
    assert (parsed.action.sources is not None) == bool(include)


def test_sources_of_several_searches_in_order():
    other = SearchResults("b", (SearchResult("B", "https://b.example/"),))
    assert [s.url for s in sources_of([RESULTS, other])] == [
        "https://docs.python.org/3/whatsnew/3.13.html",
        "https://peps.python.org/pep-0719/",
        "https://b.example/",
    ]
