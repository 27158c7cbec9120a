"""Responses with the web search tool, through the OpenAI SDK against a live server.

The search provider is the fake one (tests/support/fake_search.py, Tavily's API) on loopback; the model is the fake
upstream, which searches on a `#search:` cue and cites its sources on `#cite`. Both go through recorders
(tests/support/recording.py, tests/support/search_recording.py): in `replay` (CI) neither runs, and every model call
and search is answered from tests/responses/recordings.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from typing import get_args

import httpx
import openai
import pytest

from tests.support.dashboard import admin_session, flat
from tests.support.fake_search import KEY, results_for
from tests.support.inference import provider_yaml, raw_http, recorder_env, recordings, sdk, start_inference_server
from tests.support.live_server import LiveServer, free_port
from tests.support.waiting import wait_until

RECORDINGS = recordings("responses")
MAX_RESULTS = 3
SOURCES = "web_search_call.action.sources"
WEB_SEARCH = {"type": "web_search"}
QUERY = "django async views"
CITED = f"#cite #search:{QUERY}"
GET_TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}


def tools_yaml(search_url: str, *, max_results: int = MAX_RESULTS) -> str:
    return f"""
tools:
  mcp:
    allowed_hosts: ["127.0.0.1"]
  web_search:
    provider: tavily
    api_key: {KEY}
    base_url: "{search_url}"
    timeout_seconds: 2
    max_results: {max_results}
"""


def start(home, upstream, search_url: str, *, mode: str | None = None, max_results: int = MAX_RESULTS) -> LiveServer:
    env = recorder_env(RECORDINGS, mode) if mode is not None else None
    home.mkdir(parents=True, exist_ok=True)
    config = provider_yaml(upstream.url) + tools_yaml(search_url, max_results=max_results)
    return start_inference_server(home, RECORDINGS, config, env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream, search_url):
    running = start(tmp_path_factory.mktemp("web-search"), upstream, search_url)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    return sdk(server)


def types(response) -> list[str]:
    return [item.type for item in response.output]


def sent(response) -> list[dict]:
    return json.loads(response.output_text)["messages"]


def expected(query: str = QUERY) -> list[dict]:
    return results_for(query, MAX_RESULTS)


# ------------------------------------------------------------------------------------------ a search and its citations
def test_a_search_and_a_cited_answer(client):
    response = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH])
    assert response.status == "completed"
    assert types(response) == ["web_search_call", "message"]
    call, message = response.output
    assert (call.status, call.action.type, call.action.query) == ("completed", "search", QUERY)
    assert call.id.startswith("ws_")
    first, second = expected()[:2]
    text = response.output_text
    assert text.startswith(f"According to [{first['title']}]({first['url']}),")
    annotations = message.content[0].annotations
    assert [a.type for a in annotations] == ["url_citation", "url_citation"]
    assert (annotations[0].url, annotations[0].title) == (first["url"], first["title"])
    assert text[annotations[0].start_index : annotations[0].end_index] == f"[{first['title']}]({first['url']})"
    assert (annotations[1].url, annotations[1].title) == (second["url"], second["title"])
    assert text[annotations[1].start_index : annotations[1].end_index] == second["url"]


def test_the_model_reads_the_numbered_results(client):
    response = client.responses.create(model="fake-model", input=f"#search:{QUERY}", tools=[WEB_SEARCH])
    result = response.output_text.removeprefix("The function returned: ")
    assert result.startswith(f"Web search results for {QUERY!r}:")
    for number, found in enumerate(expected(), start=1):
        assert f"[{number}] {found['title']}\nURL: {found['url']}\n{found['content']}" in result
    assert response.output[1].content[0].annotations[0].url == expected()[0]["url"]  # a bare URL cites too


def test_sources_only_when_included(client):
    without = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH])
    assert without.output[0].action.sources is None
    assert client.responses.retrieve(without.id).output[0].action.sources is None
    included = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH], include=[SOURCES])
    urls = [source.url for source in included.output[0].action.sources]
    assert urls == [found["url"] for found in expected()]
    assert {source.type for source in included.output[0].action.sources} == {"url"}
    stored = client.responses.retrieve(included.id).output[0].action.sources
    assert [source.url for source in stored] == urls


def test_aliases_and_fields_are_accepted_and_echoed_as_given(client):
    preview = {
        "type": "web_search_preview_2025_03_11",
        "search_context_size": "low",
        "user_location": {"type": "approximate", "city": "Paris", "country": "FR"},
    }
    response = client.responses.create(model="fake-model", input=CITED, tools=[preview])
    assert types(response) == ["web_search_call", "message"]
    assert response.tools[0].model_dump(exclude_none=True) == preview
    dated = {"type": "web_search_2025_08_26", "filters": {"allowed_domains": ["example.org"]}}
    response = client.responses.create(model="fake-model", input=CITED, tools=[dated], include=[SOURCES])
    assert len(response.output[0].action.sources) == MAX_RESULTS  # every fake result is on example.org
    assert response.tools[0].model_dump(exclude_none=True) == dated


def test_allowed_domains_keep_only_their_results(client):
    elsewhere = {"type": "web_search", "filters": {"allowed_domains": ["docs.djangoproject.com"]}}
    response = client.responses.create(model="fake-model", input=CITED, tools=[elsewhere], include=[SOURCES])
    assert response.output[0].action.sources == []
    assert response.output_text == f"The function returned: The web search for {QUERY!r} found nothing."
    assert response.output[1].content[0].annotations == []


@pytest.mark.parametrize(
    ("tool", "param", "code"),
    [
        ({"type": "web_search", "search_context_size": "huge"}, "tools[0].search_context_size", "invalid_value"),
        ({"type": "web_search_preview", "filters": {}}, "tools[0].filters", "unknown_parameter"),
        ({"type": "web_search", "search_content_types": ["text"]}, "tools[0].search_content_types", None),
        ({"type": "web_search", "external_web_access": False}, "tools[0].external_web_access", "invalid_value"),
        ({"type": "web_search", "filters": {"allowed_domains": ["a b"]}}, "tools[0].filters.allowed_domains", None),
        ({"type": "web_search", "user_location": {"type": "exact"}}, "tools[0].user_location.type", None),
    ],
)
def test_bad_web_search_tools_are_400s_naming_the_field(server, tool, param, code):
    with raw_http(server) as http:
        answer = http.post("/responses", json={"model": "fake-model", "input": "hi", "tools": [tool]})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    if code:
        assert answer.json()["error"]["code"] == code


# ------------------------------------------------------------------------------------------ streaming
def test_streamed_events(client):
    with client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH], stream=True) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[:9] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-6:] == [
        "response.output_text.annotation.added",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    # The SDK parsed every event into the class of its type (it falls back to another class for a type it lacks).
    assert [get_args(type(event).model_fields["type"].annotation) for event in events] == [(k,) for k in kinds]
    call_id = events[2].item.id
    assert [events[i].item_id for i in (3, 4, 5)] == [call_id] * 3
    assert events[2].item.action.query == QUERY
    assert events[6].item.status == "completed"
    first, second = expected()[:2]
    added = [event for event in events if event.type == "response.output_text.annotation.added"]
    assert [(event.annotation_index, event.annotation.url) for event in added] == [
        (0, first["url"]),
        (1, second["url"]),
    ]
    assert {(event.item_id, event.output_index, event.content_index) for event in added} == {(events[7].item.id, 1, 0)}
    assert [a.url for a in events[-3].part.annotations] == [first["url"], second["url"]]
    assert [a.url for a in events[-2].item.content[0].annotations] == [first["url"], second["url"]]
    final = events[-1].response
    assert [a.url for a in final.output[1].content[0].annotations] == [first["url"], second["url"]]
    assert final.output[1].content[0].annotations[0].start_index == 13  # just after "According to "


# ------------------------------------------------------------------------------------------ failed searches
@pytest.mark.parametrize(
    ("cue", "told"),
    [
        ("#fail500", "The web search provider 'tavily' answered HTTP 500"),
        ("#slow:5", "The web search provider 'tavily' did not answer within 2 s."),
        ("#garbage", "The web search provider 'tavily' answered with a body that is not JSON."),
    ],
)
def test_a_failed_search_is_a_failed_item_and_the_response_completes(client, cue, told):
    response = client.responses.create(model="fake-model", input=f"#cite #search:news {cue}", tools=[WEB_SEARCH])
    assert response.status == "completed"
    assert types(response) == ["web_search_call", "message"]
    call = response.output[0]
    assert (call.status, call.action.query, call.action.sources) == ("failed", f"news {cue}", None)
    assert response.output_text.startswith(f"The function returned: The web search failed: {told}")
    assert KEY not in response.output_text
    stored = client.responses.retrieve(response.id)
    assert (stored.status, types(stored), stored.output[0].status) == ("completed", types(response), "failed")


def test_a_streamed_failed_search(client):
    with client.responses.create(
        model="fake-model", input="#search:news #fail500", tools=[WEB_SEARCH], stream=True, include=[SOURCES]
    ) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[2:6] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.output_item.done",
    ]
    assert "response.web_search_call.completed" not in kinds
    assert (events[5].item.status, events[5].item.action.sources) == ("failed", None)
    assert kinds[-1] == "response.completed"


def test_a_call_without_a_query_is_a_failed_item(client):
    response = client.responses.create(model="fake-model", input="#call:web_search", tools=[WEB_SEARCH])
    assert (response.output[0].status, response.output[0].action.query) == ("failed", "")
    assert "needs arguments" in response.output_text


# ------------------------------------------------------------------------------------------ with other tools
def test_web_search_mixed_with_a_function_tool(client):
    tools = [WEB_SEARCH, GET_TIME]
    first = client.responses.create(model="fake-model", input=f"#call:get_time #search:{QUERY}", tools=tools)
    assert types(first) == ["function_call", "web_search_call"]  # the search ran; the function is the client's
    assert first.output[1].status == "completed"
    second = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": first.output[0].call_id, "output": "noon"}],
    )
    assert second.output_text.startswith(f"The function returned: Web search results for {QUERY!r}")
    assert second.output_text.endswith(" | noon")


def test_a_client_function_named_web_search_keeps_its_name(client):
    mine = {"type": "function", "name": "web_search", "parameters": {"type": "object", "properties": {}}}
    response = client.responses.create(model="fake-model", input="#echo", tools=[mine, WEB_SEARCH])
    offered = [tool["function"]["name"] for tool in json.loads(response.output_text)["params"]["tools"]]
    assert offered == ["web_search", "web_search_2"]


# ------------------------------------------------------------------------------------------ stored state
def test_a_chain_continues_with_the_search_history(client):
    first = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH])
    second = client.responses.create(model="fake-model", previous_response_id=first.id, input="#echo")
    messages = sent(second)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
    call = messages[1]["tool_calls"][0]
    assert call["function"] == {"name": "web_search", "arguments": json.dumps({"query": QUERY})}
    assert messages[2]["tool_call_id"] == call["id"]
    assert expected()[0]["content"] in messages[2]["content"]  # what the model read, snippets included
    assert messages[3]["content"] == first.output_text
    listed = client.responses.input_items.list(second.id, order="asc").data
    assert [i.type for i in listed] == ["message", "web_search_call", "message", "message"]
    assert listed[1].id == first.output[0].id


def test_a_conversation_gets_the_search_items(client):
    conversation = client.conversations.create()
    response = client.responses.create(
        model="fake-model", conversation=conversation.id, input=CITED, tools=[WEB_SEARCH]
    )
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.type for i in items] == ["message", "web_search_call", "message"]
    assert items[1].id == response.output[0].id
    assert items[2].content[0].annotations[0].url == expected()[0]["url"]
    follow = client.responses.create(model="fake-model", conversation=conversation.id, input="#echo")
    # The search is skipped when a conversation's items become chat messages: the answer carries what it found.
    assert [m["role"] for m in sent(follow)] == ["user", "assistant", "user"]
    assert sent(follow)[1]["content"] == response.output_text
    listed = client.responses.input_items.list(follow.id, order="asc").data
    assert [i.type for i in listed] == ["message", "web_search_call", "message", "message"]


def test_the_key_is_nowhere_in_what_is_stored(client, server):
    response = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH], include=[SOURCES])
    with contextlib.closing(sqlite3.connect(server.home / "sql_store.db")) as db:
        row = db.execute(
            "SELECT response, input_items, messages FROM openai_responses WHERE public_id = ?", (response.id,)
        ).fetchone()
    assert json.loads(row[0])["output"][0]["type"] == "web_search_call"
    assert all(KEY not in column for column in row)


def test_the_admin_shows_searches_in_the_tool_items_table(client, server):
    found = client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH], include=[SOURCES])
    failed = client.responses.create(model="fake-model", input="#search:news #fail500", tools=[WEB_SEARCH])
    rows = []
    with admin_session(server) as admin:
        for response in (found, failed):
            listing = admin.get("/admin/responses/storedresponse/", params={"q": response.id})
            pk = re.search(r'href="/admin/responses/storedresponse/(\d+)/change/', listing.text).group(1)
            detail = admin.get(f"/admin/responses/storedresponse/{pk}/change/").text
            table = re.search(r'<table class="tool-items">.*?</table>', detail, re.S).group(0)
            rows += [flat(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)][1:]
    assert rows == [f"web search {QUERY} completed: {MAX_RESULTS} sources", "web search news #fail500 failed"]


def test_background_runs_the_search(client):
    queued = client.responses.create(
        model="fake-model", input=CITED, tools=[WEB_SEARCH], include=[SOURCES], background=True
    )
    done = wait_until(
        lambda: (r := client.responses.retrieve(queued.id)).status not in ("queued", "in_progress") and r,
        timeout=30,
    )
    assert done.status == "completed"
    assert types(done) == ["web_search_call", "message"]
    assert len(done.output[0].action.sources) == MAX_RESULTS  # the stored plan kept the request's include
    assert done.output[1].content[0].annotations[0].url == expected()[0]["url"]


# ------------------------------------------------------------------------------------------ not configured
@pytest.mark.parametrize("kind", ["web_search", "web_search_preview", "web_search_2025_08_26"])
def test_without_a_search_provider_web_search_is_a_400(responses_server, kind):
    client = sdk(responses_server)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="web search 400", tools=[GET_TIME, {"type": kind}])
    assert caught.value.code == "web_search_not_configured"
    assert caught.value.body["param"] == "tools[1].type"
    assert "the operator has not configured a search provider" in caught.value.message
    listed = client.get("/responses", cast_to=object, options={"params": {"limit": 5}})["data"]
    assert all(r["input"][0]["content"][0]["text"] != "web search 400" for r in listed)  # nothing stored


# ------------------------------------------------------------------------------------------ providers
def test_providers_list_the_tool_runtimes(server):
    with raw_http(server) as http:
        listed = http.get("/providers")
        one = http.get("/providers/tavily-search")
        mcp = http.get("/providers/model-context-protocol")
    assert [(p["api"], p["provider_id"]) for p in listed.json()["data"]] == [
        ("inference", "fake"),
        ("tool_runtime", "tavily-search"),
        ("tool_runtime", "model-context-protocol"),
    ]
    assert one.json() == {
        "api": "tool_runtime",
        "provider_id": "tavily-search",
        "provider_type": "remote::tavily-search",
        "config": {
            "provider": "tavily",
            "api_key": "********",
            "base_url": one.json()["config"]["base_url"],
            "timeout_seconds": 2.0,
            "max_results": MAX_RESULTS,
        },
        "health": {"status": "Not Implemented", "message": "Provider does not implement health check"},
    }
    assert mcp.json()["provider_type"] == "remote::model-context-protocol"
    assert mcp.json()["config"]["allowed_hosts"] == ["127.0.0.1"]
    assert KEY not in listed.text


def test_providers_without_tools_list_inference_only(responses_server):
    with raw_http(responses_server) as http:
        listed = http.get("/providers").json()["data"]
    assert {p["api"] for p in listed} == {"inference"}


# ------------------------------------------------------------------------------------------ replay
def test_replays_with_no_search_provider_running(tmp_path, upstream, client):
    """A server in replay mode, its search provider's port closed: the search is answered from its recording; a
    search never recorded (here: asking for more results) fails with an error naming the file."""
    client.responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH])
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{nobody}/search", json={"query": QUERY})
    replaying = start(tmp_path / "replaying", upstream, nobody, mode="replay")
    try:
        replayed = sdk(replaying).responses.create(model="fake-model", input=CITED, tools=[WEB_SEARCH])
        assert types(replayed) == ["web_search_call", "message"]
        assert replayed.output[1].content[0].annotations[0].url == expected()[0]["url"]
    finally:
        replaying.stop()
    more = start(tmp_path / "more", upstream, nobody, mode="replay", max_results=MAX_RESULTS + 1)
    try:
        with raw_http(more) as http:
            answer = http.post("/responses", json={"model": "fake-model", "input": CITED, "tools": [WEB_SEARCH]})
        assert answer.status_code == 502
        assert "web-search-tavily-" in answer.json()["error"]["message"]
        assert str(RECORDINGS) in answer.json()["error"]["message"]
    finally:
        more.stop()
