"""The dashboard's stored responses: the list (page and htmx partial, filters, pages, access, queries) and a
response's page, every kind of item shown readably and escaped, over rows stored the way the responses store
writes them."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

import pytest

from apps.core.principal import Principal
from apps.prompts import services as prompt_services
from apps.responses.models import StoredResponse
from apps.responses.plans import tool_call_count
from tests.support.dashboard import assert_page, assert_partial, flat, hx

pytestmark = pytest.mark.django_db

_ids = itertools.count()
NOW = datetime.now(UTC)
EVIL = "<script>alert(1)</script>"

MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [
        {
            "type": "output_text",
            "text": "Gardens need water.",
            "annotations": [
                {"type": "url_citation", "url": "https://example.org/water", "title": "Watering", "start_index": 0},
                {"type": "url_citation", "url": "javascript:alert(1)", "title": "bad link", "start_index": 0},
            ],
        }
    ],
}
LISTING = {
    "type": "mcp_list_tools",
    "id": "mcpl_1",
    "server_label": "tests",
    "tools": [{"name": "add", "input_schema": {}}, {"name": "echo", "input_schema": {}}],
}
LISTING_FAILED = {"type": "mcp_list_tools", "id": "mcpl_2", "server_label": "down", "tools": [], "error": EVIL}
CALL = {
    "type": "mcp_call",
    "id": "mcp_1",
    "server_label": "tests",
    "name": "echo",
    "arguments": '{"text":"hi","n":2}',
    "output": EVIL,
    "error": None,
    "status": "completed",
}
CALL_FAILED = {
    "type": "mcp_call",
    "id": "mcp_2",
    "server_label": "tests",
    "name": "explode",
    "arguments": "{}",
    "output": None,
    "error": f"tool failed: {EVIL}",
    "status": "failed",
}
APPROVAL_REQUEST = {
    "type": "mcp_approval_request",
    "id": "mcpr_1",
    "server_label": "tests",
    "name": "add",
    "arguments": '{"a":2,"b":3}',
}
APPROVAL = {"type": "mcp_approval_response", "id": "mcpa_1", "approval_request_id": "mcpr_1", "approve": True}
FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
    "status": "completed",
}
FUNCTION_OUTPUT = {"type": "function_call_output", "id": "fco_1", "call_id": "call_1", "output": '{"temp":21}'}
SEARCH = {
    "type": "web_search_call",
    "id": "ws_1",
    "status": "completed",
    "action": {"type": "search", "query": "how to water", "sources": [{"type": "url", "url": "https://example.org/s"}]},
}
REASONING = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking it over."}]}
COMPACTION = {"type": "compaction", "id": "cmp_1", "encrypted_content": "opaque"}
UNKNOWN = {"type": "image_generation_call_x", "id": "odd_1", "note": EVIL}
USER = {
    "type": "message",
    "id": "msg_0",
    "role": "user",
    "content": [{"type": "input_text", "text": "Water <b>me</b>"}],
}


def store(
    *,
    output: list | None = None,
    input_items: list | None = None,
    owner: Principal | None = None,
    when: datetime | None = None,
    **columns,
) -> StoredResponse:
    """A stored response as the responses store writes it (its tool calls counted as the writers count them)."""
    public_id = f"resp_dash{next(_ids):06d}"
    output = output if output is not None else [MESSAGE]
    status = columns.pop("status", "completed")
    response = {
        "id": public_id,
        "object": "response",
        "status": status,
        "model": columns.get("model", "fake-model"),
        "output": output,
        "usage": {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
    }
    row = StoredResponse(
        public_id=public_id,
        created_at=when or NOW,
        model=columns.pop("model", "fake-model"),
        status=status,
        response=response,
        input_items=input_items if input_items is not None else [USER],
        messages=[],
        input_tokens=12,
        output_tokens=7,
        latency_ms=345,
        tool_calls=tool_call_count(output),
        **columns,
    ).stamp(owner)
    row.save()
    return row


@pytest.fixture
def web(alice):
    client = Client()
    client.force_login(alice)
    return client


def list_ids(body: str) -> list[str]:
    return re.findall(r'<tr data-response="([^"]+)"', body)


def item(body: str, item_type: str) -> str:
    match = re.search(rf'<li class="response-item[^"]*" data-type="{item_type}">(.*?)</li>', body, re.S)
    assert match, f"no {item_type} item"
    return match.group(1)


# ------------------------------------------------------------------------------------------ list
def test_the_list_is_a_page_and_a_partial(web):
    older = store(when=NOW - timedelta(minutes=5), prompt_id="pmpt_" + "a" * 48, prompt_version=2)
    newer = store(output=[LISTING, CALL, MESSAGE])
    body = assert_page(web.get("/dashboard/responses/"), "response-list")
    assert list_ids(body) == [newer.public_id, older.public_id]  # newest first
    assert 'aria-current="page">Responses</a>' in body
    partial = assert_partial(web.get("/dashboard/responses/", headers=hx("response-list")), "response-list")
    assert list_ids(partial) == [newer.public_id, older.public_id]


def test_a_row_shows_model_status_prompt_tokens_latency_and_tool_calls(web):
    prompt_id = "pmpt_" + "b" * 48
    row = store(output=[LISTING, CALL, FUNCTION_CALL, SEARCH, MESSAGE], prompt_id=prompt_id, prompt_version=3)
    body = web.get("/dashboard/responses/").content.decode()
    cells = re.search(rf'<tr data-response="{row.public_id}">(.*?)</tr>', body, re.S).group(1)
    assert flat(cells) == f"{row.public_id} fake-model completed pmpt_bbbbbbbb… v3 12 / 7 345 ms 3"
    assert f'href="/dashboard/{prompt_id}/?version=3"' in cells
    assert f'href="/dashboard/responses/{row.public_id}/"' in cells


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("prompt=pmpt_" + "c" * 48, {"first", "second"}),
        ("prompt=pmpt_" + "c" * 48 + "&version=2", {"second"}),
        ("model=other-model", {"third"}),
        ("status=failed", {"third"}),
        ("origin=playground", {"second"}),
        ("origin=api", {"first", "third"}),
        ("tools=yes", {"first"}),
        ("tools=no", {"second", "third"}),
    ],
)
def test_filters(web, query, expected):
    prompt_id = "pmpt_" + "c" * 48
    rows = {
        "first": store(output=[CALL, MESSAGE], prompt_id=prompt_id, prompt_version=1),
        "second": store(prompt_id=prompt_id, prompt_version=2, origin="playground"),
        "third": store(model="other-model", status="failed"),
    }
    names = {row.public_id: name for name, row in rows.items()}
    body = assert_partial(web.get(f"/dashboard/responses/?{query}", headers=hx("response-list")), "response-list")
    assert {names[i] for i in list_ids(body)} == expected
    page = web.get(f"/dashboard/responses/?{query}").content.decode()  # without JavaScript: the same rows
    assert {names[i] for i in list_ids(page)} == expected


def test_a_bad_filter_is_said_and_lists_nothing(web):
    store()
    body = assert_partial(
        web.get("/dashboard/responses/?prompt=not-a-prompt", headers=hx("response-list")), "response-list", status=400
    )
    assert "These filters cannot be applied" in body
    assert list_ids(body) == []


def test_pages_of_fifty(web):
    rows = [store(when=NOW - timedelta(seconds=n)) for n in range(55)]
    first = web.get("/dashboard/responses/").content.decode()
    assert list_ids(first) == [r.public_id for r in rows[:50]]
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert older.startswith("?after=")
    second = web.get("/dashboard/responses/" + older, headers=hx("response-list")).content.decode()
    assert list_ids(second) == [r.public_id for r in rows[50:]]
    assert 'rel="next"' not in second


def test_the_list_takes_the_same_queries_whatever_the_page_size(web, django_assert_num_queries):
    store(output=[CALL, MESSAGE], prompt_id="pmpt_" + "d" * 48, prompt_version=1)
    web.get("/dashboard/responses/")  # the session and user are read the same way below

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            web.get(url, headers=hx("response-list"))
        return len(captured.captured_queries)

    one = queries("/dashboard/responses/")
    for n in range(60):
        store(output=[CALL, MESSAGE] if n % 2 else [MESSAGE], prompt_id="pmpt_" + "d" * 48, prompt_version=1 + n % 3)
    with django_assert_num_queries(one):
        body = web.get("/dashboard/responses/", headers=hx("response-list")).content.decode()
    assert len(list_ids(body)) == 50
    last = list_ids(body)[-1]
    with django_assert_num_queries(one + 1):  # paging on reads the cursor's row first
        web.get(f"/dashboard/responses/?after={last}", headers=hx("response-list"))


# ------------------------------------------------------------------------------------------ access
def test_someone_elses_responses_are_not_listed_or_shown(web, settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    mine = store(owner=Principal("alice"))
    bobs = store(owner=Principal("bob"))
    body = web.get("/dashboard/responses/").content.decode()
    assert list_ids(body) == [mine.public_id]
    assert web.get(f"/dashboard/responses/{bobs.public_id}/").status_code == 404
    gone = web.get(f"/dashboard/responses/{bobs.public_id}/", headers=hx("response-body"))
    assert gone.status_code == 404
    assert web.get(f"/dashboard/responses/{mine.public_id}/").status_code == 200


def test_anonymous_visitors_go_to_log_in():
    anonymous = Client()
    for url in ("/dashboard/responses/", "/dashboard/responses/resp_x/"):
        answer = anonymous.get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/dashboard/login/?next=")
    assert (
        anonymous.get("/dashboard/responses/", headers=hx("response-list"))
        .headers["HX-Redirect"]
        .startswith("/dashboard/login/")
    )


def test_an_unknown_response_is_a_404_page(web):
    body = assert_page(web.get("/dashboard/responses/resp_nothing/"), status=404)
    assert "resp_nothing" in body


# ------------------------------------------------------------------------------------------ detail
@pytest.fixture
def full():
    """A response with every kind of item, after a previous one, in a conversation, made with a prompt."""
    previous = store()
    return store(
        output=[
            REASONING,
            LISTING,
            LISTING_FAILED,
            CALL,
            CALL_FAILED,
            APPROVAL_REQUEST,
            FUNCTION_CALL,
            SEARCH,
            MESSAGE,
            UNKNOWN,
        ],
        input_items=[USER, APPROVAL, FUNCTION_OUTPUT, COMPACTION],
        prompt_id="pmpt_" + "e" * 48,
        prompt_version=4,
        previous_response_id=previous.public_id,
        conversation_id="conv_123",
        first_token_ms=40,
    )


def test_the_response_page_and_its_partial(web, full):
    body = assert_page(web.get(f"/dashboard/responses/{full.public_id}/"), "response-body", "response-output")
    facts = flat(re.search(r'<dl class="settings-list response-facts">(.*?)</dl>', body, re.S).group(1))
    assert facts == (
        f"Status completed Model fake-model Prompt pmpt_{'e' * 48} version 4 Usage 12 in, 7 out, 19 total "
        f"Timing 345 ms, first output after 40 ms Previous response {full.previous_response_id} "
        "Conversation conv_123 Tool calls 4"
    )
    assert f'href="/dashboard/pmpt_{"e" * 48}/?version=4"' in body
    assert f'href="/dashboard/responses/{full.previous_response_id}/"' in body
    partial = assert_partial(
        web.get(f"/dashboard/responses/{full.public_id}/", headers=hx("response-body")), "response-body"
    )
    assert "hx-trigger" not in partial.split(">", 1)[0]  # a finished response does not poll


def test_every_item_type_is_shown_readably(web, full):
    body = web.get(f"/dashboard/responses/{full.public_id}/").content.decode()
    message = item(body, "message")
    assert "Gardens need water." in message
    assert '<a href="https://example.org/water" rel="noopener noreferrer nofollow">Watering</a>' in message
    assert 'href="javascript:' not in body  # a cited link a browser should not follow is text only
    assert flat(item(body, "mcp_list_tools")) == "MCP tools listed on tests add , echo"
    call = item(body, "mcp_call")
    assert flat(call).startswith("MCP call tests · echo · completed")
    assert escape(json.dumps({"n": 2, "text": "hi"}, indent=2)) in call  # arguments pretty-printed
    assert flat(item(body, "mcp_approval_request")).startswith("approval asked tests · add mcpr_1")
    assert flat(item(body, "mcp_approval_response")) == "approval approved for mcpr_1"
    function_call = item(body, "function_call")
    assert flat(function_call).startswith("function call get_weather call_1 · completed")
    assert escape(json.dumps({"city": "Paris"}, indent=2)) in function_call
    assert escape(json.dumps({"temp": 21}, indent=2)) in item(body, "function_call_output")
    search = item(body, "web_search_call")
    assert flat(search).startswith("web search “ how to water ” · completed")
    assert 'href="https://example.org/s"' in search
    assert "<details" in item(body, "reasoning")
    assert "Thinking it over." in item(body, "reasoning")
    assert "<details" in item(body, "compaction")
    assert "&quot;note&quot;" in item(body, "image_generation_call_x")  # unknown: its JSON
    assert "Water &lt;b&gt;me&lt;/b&gt;" in body  # the user's input


def test_user_model_and_tool_text_is_escaped(web, full):
    body = web.get(f"/dashboard/responses/{full.public_id}/").content.decode()
    assert EVIL not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in item(body, "mcp_call")  # a tool's output
    failed = re.findall(r'<li class="response-item[^"]*" data-type="mcp_call">(.*?)</li>', body, re.S)[1]
    assert "Error: tool failed: &lt;script&gt;" in failed  # an MCP error
    assert (
        "Error: &lt;script&gt;"
        in re.findall(r'<li class="response-item[^"]*" data-type="mcp_list_tools">(.*?)</li>', body, re.S)[1]
    )


def test_a_running_background_response_polls_until_it_ends(web):
    running = store(output=[], status="queued")
    body = web.get(f"/dashboard/responses/{running.public_id}/").content.decode()
    region = re.search(r'<section id="response-body"[^>]*>', body).group(0)
    assert 'hx-trigger="every 2s"' in region
    assert f'href="/dashboard/responses/{running.public_id}/">Refresh</a>' in body
    StoredResponse.objects.filter(pk=running.pk).update(status="completed")
    partial = web.get(f"/dashboard/responses/{running.public_id}/", headers=hx("response-body")).content.decode()
    assert "hx-trigger" not in partial.split(">", 1)[0]


def test_input_items_are_what_the_api_lists(web):
    history = [USER, {**MESSAGE, "id": "msg_prev"}]
    own = {"type": "message", "id": "msg_own", "role": "user", "content": "and again"}
    row = store(input_items=[*history, own])
    body = web.get(f"/dashboard/responses/{row.public_id}/").content.decode()
    inputs = re.search(r'<ol class="response-items" id="response-input"[^>]*>(.*?)</ol>', body, re.S).group(1)
    assert flat(inputs) == (
        "user Water &lt;b&gt;me&lt;/b&gt; assistant Gardens need water. Watering https://example.org/water "
        "bad link javascript:alert(1) user and again"
    )


def test_the_stored_rows_count_their_tool_calls_in_the_migration_too(full):
    StoredResponse.objects.filter(pk=full.pk).update(tool_calls=0)
    migration = import_module("apps.responses.migrations.0009_response_tool_calls")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL[connection.vendor])
    assert StoredResponse.objects.get(pk=full.pk).tool_calls == 4


@pytest.mark.usefixtures("prompts_backend")
def test_the_prompt_page_links_to_its_responses(web):
    prompt_id = prompt_services.prompt_create(text="Hi {{ name }}", variables=["name"]).prompt_id
    store(prompt_id=prompt_id, prompt_version=1, when=NOW - timedelta(hours=1))
    body = web.get(f"/dashboard/{prompt_id}/").content.decode()
    assert f'href="/dashboard/responses/?prompt={prompt_id}&amp;version=1"' in body
    assert f'href="/dashboard/responses/?prompt={prompt_id}"' in body


def test_the_usage_rollup_still_counts_new_responses():
    """The column's migration keeps the table (and so the rollup's triggers) instead of rebuilding it."""
    store(prompt_id="pmpt_" + "f" * 48, prompt_version=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(requests) FROM openai_responses_usage_hourly WHERE prompt_id = %s", ["pmpt_" + "f" * 48]
        )
        assert cursor.fetchone()[0] == 1


def test_the_admin_links_a_response_to_its_dashboard_page(admin_client, full):
    body = admin_client.get(f"/admin/responses/storedresponse/{full.pk}/change/").content.decode()
    assert f'href="/dashboard/responses/{full.public_id}/"' in body
