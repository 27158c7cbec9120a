"""Responses with remote MCP tools, through the OpenAI SDK against a live server.

The MCP server is the `mcp` SDK's own (tests/support/mcp_server.py) on loopback; the model is the fake upstream.
Both go through recorders (tests/support/recording.py, tests/support/mcp_recording.py): in `replay` (CI) neither
runs, and every model call and MCP session is answered from tests/responses/recordings.
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
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import provider_yaml, raw_http, recorder_env, recordings, sdk, start_inference_server
from tests.support.live_server import LiveServer, free_port
from tests.support.mcp_recording import MCP_CLIENT_CLASS
from tests.support.mcp_server import GUARD_TOKEN, McpTestServer
from tests.support.recording import MODE_ENV
from tests.support.waiting import wait_until

RECORDINGS = recordings("responses")

TOKEN = GUARD_TOKEN  # what the guarded MCP server wants; must be nowhere in the server's home
MAX_ROUNDS = 3
TOOLS_YAML = f"""
tools:
  max_rounds: {MAX_ROUNDS}
  mcp:
    allowed_hosts: ["127.0.0.1"]
    call_timeout: 2
"""
ADD = '#call:add{"a": 2, "b": 3}'


def start(home, upstream, *, mode: str | None = None) -> LiveServer:
    env = {"STACKADMIN_MCP_CLIENT_CLASS": MCP_CLIENT_CLASS}
    if mode is not None:
        env.update(recorder_env(RECORDINGS, mode))
    return start_inference_server(home, RECORDINGS, provider_yaml(upstream.url) + TOOLS_YAML, env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    running = start(tmp_path_factory.mktemp("mcp-responses"), upstream)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    return sdk(server)


def tool(mcp: McpTestServer, **fields) -> dict:
    return {"type": "mcp", "server_label": "tests", "server_url": mcp.url, **fields}


def types(response) -> list[str]:
    return [item.type for item in response.output]


def sent(response) -> list[dict]:
    return json.loads(response.output_text)["messages"]


# ------------------------------------------------------------------------------------------ listing and calls
def test_lists_the_tools_calls_one_and_answers(client, mcp):
    response = client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp, require_approval="never")])
    assert response.status == "completed"
    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    listing, call, _ = response.output
    assert listing.server_label == "tests"
    assert [t.name for t in listing.tools] == ["add", "echo", "slow_echo", "explode"]
    assert listing.tools[0].input_schema["required"] == ["a", "b"]
    assert listing.tools[0].annotations["readOnlyHint"] is True
    assert (call.server_label, call.name, json.loads(call.arguments)) == ("tests", "add", {"a": 2, "b": 3})
    assert (call.output, call.error, call.status) == ("5", None, "completed")
    assert response.output_text == "The function returned: 5"
    assert response.usage.input_tokens > 0


def test_allowed_tools_narrow_what_the_model_is_offered(client, mcp):
    offered = tool(mcp, require_approval="never", allowed_tools=["echo"])
    response = client.responses.create(model="fake-model", input="#echo", tools=[offered])
    assert [t["function"]["name"] for t in json.loads(response.output_text)["params"]["tools"]] == ["echo"]
    assert response.output[0].type == "mcp_list_tools"
    assert len(response.output[0].tools) == 4  # the listing shows the server's tools; the model gets the allowed


def test_a_failing_tool_is_an_error_item_and_the_model_goes_on(client, mcp):
    response = client.responses.create(
        model="fake-model", input="#call:explode", tools=[tool(mcp, require_approval="never")]
    )
    assert response.status == "completed"
    call = response.output[1]
    assert (call.type, call.status, call.output) == ("mcp_call", "failed", None)
    assert call.error.type == "mcp_tool_execution_error"
    assert "explode" in call.error.content[0]["text"]
    assert response.output_text.startswith("The function returned: Error: ")


def test_a_tool_slower_than_the_call_timeout_is_an_error_item(client, mcp):
    response = client.responses.create(
        model="fake-model",
        input='#call:slow_echo{"text": "late", "seconds": 5}',
        tools=[tool(mcp, require_approval="never")],
    )
    call = response.output[1]
    assert call.status == "failed"
    assert (call.error.type, call.error.code) == ("http_error", 504)
    assert "did not answer within 2 s" in call.error.message


def test_over_sse(client, mcp):
    sse = {"type": "mcp", "server_label": "sse", "server_url": mcp.sse_url, "require_approval": "never"}
    response = client.responses.create(model="fake-model", input='#call:echo{"text": "over sse"}', tools=[sse])
    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].output == "over sse"


# ------------------------------------------------------------------------------------------ approvals
def test_approval_ends_the_response_and_the_answer_runs_the_call(client, mcp):
    first = client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp)])  # approval: "always"
    assert first.status == "completed"
    assert types(first) == ["mcp_list_tools", "mcp_approval_request"]
    request = first.output[1]
    assert (request.server_label, request.name, json.loads(request.arguments)) == ("tests", "add", {"a": 2, "b": 3})
    assert request.id.startswith("mcpr_")

    approved = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=[tool(mcp)],
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    )
    assert types(approved) == ["mcp_call", "message"]  # the tools were listed earlier in the chain
    assert approved.output[0].approval_request_id == request.id
    assert approved.output[0].output == "5"
    assert approved.output_text == "The function returned: 5"


def test_approval_within_a_conversation(client, mcp):
    conversation = client.conversations.create()
    first = client.responses.create(model="fake-model", conversation=conversation.id, input=ADD, tools=[tool(mcp)])
    request = first.output[1]
    approved = client.responses.create(
        model="fake-model",
        conversation=conversation.id,
        tools=[tool(mcp)],
        input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}],
    )
    assert types(approved) == ["mcp_call", "message"]
    assert approved.output_text == "The function returned: 5"
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.type for i in items] == [
        "message",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "message",
    ]


def test_a_declined_approval_tells_the_model(client, mcp):
    first = client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp)])
    declined = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=[tool(mcp)],
        input=[{"type": "mcp_approval_response", "approval_request_id": first.output[1].id, "approve": False}],
    )
    assert types(declined) == ["message"]
    assert declined.output_text == "The function returned: The user declined to run this tool call."


def test_per_tool_approval(client, mcp):
    never_for_add = tool(mcp, require_approval={"never": {"tool_names": ["add"]}})
    runs = client.responses.create(model="fake-model", input=ADD, tools=[never_for_add])
    assert types(runs) == ["mcp_list_tools", "mcp_call", "message"]
    asks = client.responses.create(model="fake-model", input='#call:echo{"text": "x"}', tools=[never_for_add])
    assert types(asks) == ["mcp_list_tools", "mcp_approval_request"]
    read_only = tool(mcp, require_approval={"never": {"read_only": True}})
    assert types(client.responses.create(model="fake-model", input=ADD, tools=[read_only]))[1] == "mcp_call"


def test_an_approval_answer_for_no_request_is_a_400(client, mcp):
    first = client.responses.create(model="fake-model", input="hello", tools=[tool(mcp)])
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="fake-model",
            previous_response_id=first.id,
            tools=[tool(mcp)],
            input=[{"type": "mcp_approval_response", "approval_request_id": "mcpr_nothing", "approve": True}],
        )
    assert caught.value.code == "mcp_approval_request_not_found"
    assert "mcpr_nothing" in caught.value.message


# ------------------------------------------------------------------------------------------ streaming
def test_streamed_events(client, mcp):
    with client.responses.create(
        model="fake-model", input=ADD, tools=[tool(mcp, require_approval="never")], stream=True
    ) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[:12] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.mcp_list_tools.in_progress",
        "response.mcp_list_tools.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    # The SDK parsed every event into the class of its type (it falls back to another class for a type it lacks).
    assert [get_args(type(event).model_fields["type"].annotation) for event in events] == [(k,) for k in kinds]
    assert events[7].delta == '{"a": 2, "b": 3}'
    assert events[11].item.output == "5"
    assert events[3].item_id == events[2].item.id
    final = events[-1].response
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert client.responses.retrieve(final.id).output[1].output == "5"


def test_streamed_listing_failure_ends_with_response_failed(client):
    down = {"type": "mcp", "server_label": "down", "server_url": f"http://127.0.0.1:{free_port()}/mcp"}
    with client.responses.create(model="fake-model", input="hi", tools=[down], stream=True) as stream:
        events = list(stream)
    assert [event.type for event in events][-3:] == [
        "response.mcp_list_tools.failed",
        "response.output_item.done",
        "response.failed",
    ]
    assert "Error retrieving tool list from MCP server 'down'" in events[-1].response.error.message


# ------------------------------------------------------------------------------------------ the loop's limits
def test_the_round_cap_makes_the_model_answer(client, mcp):
    looping = '#loop #call:echo{"text": "again"}'
    response = client.responses.create(model="fake-model", input=looping, tools=[tool(mcp, require_approval="never")])
    assert types(response) == ["mcp_list_tools", *["mcp_call"] * MAX_ROUNDS, "message"]
    assert response.output_text.startswith("The function returned: again")


def test_max_tool_calls_caps_the_calls(client, mcp):
    looping = '#loop #call:echo{"text": "again"}'
    response = client.responses.create(
        model="fake-model", input=looping, tools=[tool(mcp, require_approval="never")], max_tool_calls=2
    )
    assert types(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    assert response.max_tool_calls == 2


def test_function_tools_mixed_in_end_the_response_for_the_client(client, mcp):
    get_time = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
    tools = [tool(mcp, require_approval="never"), get_time]
    first = client.responses.create(model="fake-model", input=f"{ADD} #call:get_time", tools=tools)
    assert types(first) == ["mcp_list_tools", "function_call", "mcp_call"]
    assert first.output[2].output == "5"
    call_id = first.output[1].call_id
    second = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": call_id, "output": "noon"}],
    )
    assert second.output_text == "The function returned: 5 | noon"


def test_a_function_call_alone_beside_mcp_tools(client, mcp):
    get_time = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
    tools = [tool(mcp, require_approval="never"), get_time]
    first = client.responses.create(model="fake-model", input="#call:get_time", tools=tools)
    assert types(first) == ["mcp_list_tools", "function_call"]
    second = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": first.output[1].call_id, "output": "noon"}],
    )
    assert second.output_text == "The function returned: noon"


# ------------------------------------------------------------------------------------------ safety
def test_a_host_not_allowed_is_a_400_naming_it(client):
    elsewhere = {"type": "mcp", "server_label": "x", "server_url": "https://mcp.example.com/mcp"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="hi", tools=[elsewhere])
    assert caught.value.code == "mcp_host_not_allowed"
    assert "'mcp.example.com'" in caught.value.message
    assert caught.value.param == "tools[0].server_url"


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"server_url": None}, "tools[0].server_url", "missing_required_parameter"),
        ({"server_url": "ftp://127.0.0.1/mcp"}, "tools[0].server_url", "invalid_value"),
        ({"server_label": "two words"}, "tools[0].server_label", "invalid_value"),
        ({"connector_id": "connector_gmail"}, "tools[0].connector_id", "unknown_parameter"),
        ({"require_approval": "sometimes"}, "tools[0].require_approval", "invalid_value"),
        ({"require_approval": {"never": {"tool_names": "add"}}}, "tools[0].require_approval.never.tool_names", None),
        ({"allowed_tools": {"names": ["add"]}}, "tools[0].allowed_tools.names", "unknown_parameter"),
        ({"headers": {"Authorization": "Bearer x"}, "authorization": "x"}, "tools[0].authorization", "invalid_value"),
    ],
)
def test_bad_mcp_tools_are_400s_naming_the_field(server, fields, param, code):
    bad = {"type": "mcp", "server_label": "tests", "server_url": "http://127.0.0.1/mcp", **fields}
    bad = {name: value for name, value in bad.items() if value is not None}
    with raw_http(server) as http:
        answer = http.post("/responses", json={"model": "fake-model", "input": "hi", "tools": [bad]})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    if code:
        assert answer.json()["error"]["code"] == code


def test_other_server_side_tools_are_400s(server):
    with raw_http(server) as http:
        tools = [{"type": "file_search", "vector_store_ids": ["vs_1"]}]
        answer = http.post("/responses", json={"model": "fake-model", "input": "hi", "tools": tools})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unsupported_tool"
    assert "'mcp'" in answer.json()["error"]["message"]


def test_headers_are_sent_and_never_stored_or_echoed(client, server, guarded):
    secured = {
        "type": "mcp",
        "server_label": "guarded",
        "server_url": guarded.url,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "require_approval": "never",
    }
    response = client.responses.create(model="fake-model", input='#call:echo{"text": "let in"}', tools=[secured])
    assert response.output[1].output == "let in"  # the guarded server answers 401 without the header
    assert response.tools[0].headers is None
    assert TOKEN not in json.dumps(client.responses.retrieve(response.id).model_dump())
    listed = client.responses.input_items.list(response.id)
    assert TOKEN not in json.dumps(listed.model_dump())
    with contextlib.closing(sqlite3.connect(server.home / "sql_store.db")) as db:
        row = db.execute(
            "SELECT response, input_items, messages FROM openai_responses WHERE public_id = ?", (response.id,)
        ).fetchone()
    assert "headers" not in json.loads(row[0])["tools"][0]
    assert all(TOKEN not in column for column in row)
    for path in server.home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_background_refuses_mcp_headers(client, mcp):
    secured = tool(mcp, headers={"X-Key": "k"})
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="hi", tools=[secured], background=True)
    assert caught.value.param == "tools[0].headers"
    assert "background" in caught.value.message


def test_background_runs_the_tool_loop(client, mcp):
    queued = client.responses.create(
        model="fake-model", input=ADD, tools=[tool(mcp, require_approval="never")], background=True
    )
    done = wait_until(
        lambda: (r := client.responses.retrieve(queued.id)).status not in ("queued", "in_progress") and r,
        timeout=30,
    )
    assert done.status == "completed"
    assert types(done) == ["mcp_list_tools", "mcp_call", "message"]
    assert done.output[1].output == "5"


def test_an_unreachable_server_fails_the_response(client):
    down = {"type": "mcp", "server_label": "down", "server_url": f"http://127.0.0.1:{free_port()}/mcp"}
    response = client.responses.create(model="fake-model", input="hi", tools=[down])
    assert response.status == "failed"
    assert types(response) == ["mcp_list_tools"]
    assert "Could not reach MCP server" in response.output[0].error
    assert response.error.code == "server_error"
    assert client.responses.retrieve(response.id).status == "failed"


def test_a_server_that_does_not_speak_mcp_fails_the_response(client, mcp):
    broken = {"type": "mcp", "server_label": "broken", "server_url": mcp.broken_url}
    response = client.responses.create(model="fake-model", input="hi", tools=[broken])
    assert response.status == "failed"
    assert "Failed to parse JSON response" in response.output[0].error
    assert "Error retrieving tool list from MCP server 'broken'" in response.error.message


# ------------------------------------------------------------------------------------------ stored state
def test_a_chain_keeps_the_tool_history_and_lists_once(client, mcp):
    first = client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp, require_approval="never")])
    second = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        input='#call:add{"a": 1, "b": 1}',
        tools=[tool(mcp, require_approval="never")],
    )
    assert types(second) == ["mcp_call", "message"]  # listed once per chain
    assert second.output[0].output == "2"
    third = client.responses.create(model="fake-model", previous_response_id=second.id, input="#echo")
    messages = sent(third)
    call = messages[1]["tool_calls"][0]
    assert call["function"] == {"name": "add", "arguments": '{"a": 2, "b": 3}'}
    assert messages[2] == {"role": "tool", "tool_call_id": call["id"], "content": "5"}
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"] * 2 + ["user"]
    listed = client.responses.input_items.list(third.id, order="asc").data
    assert [i.type for i in listed].count("mcp_call") == 2


def test_conversation_gets_the_tool_items(client, mcp):
    conversation = client.conversations.create()
    response = client.responses.create(
        model="fake-model", conversation=conversation.id, input=ADD, tools=[tool(mcp, require_approval="never")]
    )
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [i.type for i in items] == ["message", "mcp_list_tools", "mcp_call", "message"]
    assert items[2].id == response.output[1].id
    follow = client.responses.create(model="fake-model", conversation=conversation.id, input="#echo")
    messages = sent(follow)
    assert messages[1]["tool_calls"][0]["function"]["name"] == "add"
    assert messages[2]["content"] == "5"
    listed = client.responses.input_items.list(follow.id, order="asc").data
    assert [i.type for i in listed] == ["message", "mcp_list_tools", "mcp_call", "message", "message"]


# ------------------------------------------------------------------------------------------ replay
def test_replays_with_no_mcp_server_running(tmp_path, upstream, client, mcp):
    """A server in replay mode, its MCP server's port closed: the call is answered from its recordings; a
    session never recorded fails with an error naming the file."""
    client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp, require_approval="never")])
    replaying = start(tmp_path, upstream, mode="replay")
    try:
        nobody = f"http://127.0.0.1:{free_port()}/mcp"
        with pytest.raises(httpx.ConnectError):
            httpx.post(nobody, json={})
        replayed = sdk(replaying).responses.create(
            model="fake-model",
            input=ADD,
            tools=[{"type": "mcp", "server_label": "tests", "server_url": nobody, "require_approval": "never"}],
        )
        assert types(replayed) == ["mcp_list_tools", "mcp_call", "message"]
        assert replayed.output[1].output == "5"
        never = {"type": "mcp", "server_label": "never-recorded", "server_url": nobody}
        with raw_http(replaying) as http:
            answer = http.post("/responses", json={"model": "fake-model", "input": "hi", "tools": [never]})
        assert answer.status_code == 502
        assert "mcp-tools-list-" in answer.json()["error"]["message"]
        assert str(RECORDINGS) in answer.json()["error"]["message"]
    finally:
        replaying.stop()


def test_without_its_headers_the_guarded_server_refuses(client, guarded):
    bare = {"type": "mcp", "server_label": "guarded-bare", "server_url": guarded.url}
    response = client.responses.create(model="fake-model", input="hi", tools=[bare])
    assert response.status == "failed"
    assert "HTTP 401" in response.output[0].error


def test_the_admin_shows_tool_items_as_a_table(client, server, mcp):
    response = client.responses.create(
        model="fake-model", input='#call:echo{"text": "<b>bold</b>"}', tools=[tool(mcp, require_approval="never")]
    )
    with admin_session(server) as admin:
        listing = admin.get("/admin/responses/storedresponse/", params={"q": response.id})
        pk = re.search(r'href="/admin/responses/storedresponse/(\d+)/change/', listing.text).group(1)
        detail = admin.get(f"/admin/responses/storedresponse/{pk}/change/").text
    table = re.search(r'<table class="tool-items">.*?</table>', detail, re.S).group(0)
    rows = [flat(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)][1:]
    assert rows[0] == "list tools tests add, echo, slow_echo, explode listed"
    assert rows[1].startswith("call tests echo")
    assert "&lt;b&gt;bold&lt;/b&gt;" in table  # the tool's output is escaped
    assert "<b>bold</b>" not in table


def test_a_required_tool_choice_holds_for_the_first_model_call_only(client, mcp):
    response = client.responses.create(
        model="fake-model", input="no cue", tools=[tool(mcp, require_approval="never")], tool_choice="required"
    )
    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].name == "add"  # the fake calls the first tool when one is required
    assert response.output[1].error.type == "mcp_tool_execution_error"  # called without its arguments
    assert response.tool_choice == "required"


def test_a_streamed_approval_request(client, mcp):
    with client.responses.create(model="fake-model", input=ADD, tools=[tool(mcp)], stream=True) as stream:
        events = list(stream)
    assert [event.type for event in events][-3:] == [
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[-2].item.type == "mcp_approval_request"
    assert events[-2].item.name == "add"


def test_a_queued_background_response_runs_its_tools_from_the_stored_plan(tmp_path):
    """With one runner slot taken, the MCP response waits `queued` and is computed from its stored plan (the
    server-side tools as JSON, without secrets), not from the request's objects. Live: the fake model must drip
    to hold the slot, so both outside servers run here, whatever the mode."""
    fake, mcp_live = FakeUpstream(free_port()).start(), McpTestServer()
    running = start_inference_server(
        tmp_path,
        tmp_path / "no-recordings",
        provider_yaml(fake.url) + TOOLS_YAML,
        env={MODE_ENV: "live", "STACKADMIN_TASK_CAPACITY": "1", "STACKADMIN_MCP_CLIENT_CLASS": MCP_CLIENT_CLASS},
    )
    try:
        client = sdk(running)
        holding = client.responses.create(model="fake-model", input="hold the runner #drip:0.3", background=True)
        queued = client.responses.create(
            model="fake-model", input=ADD, tools=[tool(mcp_live, require_approval="never")], background=True
        )
        assert client.responses.retrieve(queued.id).status == "queued"
        done = wait_until(
            lambda: (r := client.responses.retrieve(queued.id)).status not in ("queued", "in_progress") and r,
            timeout=30,
        )
        assert types(done) == ["mcp_list_tools", "mcp_call", "message"]
        assert done.output[1].output == "5"
        assert client.responses.retrieve(holding.id).status == "completed"
    finally:
        running.stop()
        mcp_live.stop()
        fake.stop()
