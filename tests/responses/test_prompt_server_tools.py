"""A prompt version's server-side tools (web search, remote MCP), run by `responses.create(prompt={"id": ...})` with
no model and no tools, as code written for OpenAI's prompt objects calls it; through the OpenAI SDK against a live
server.

The model is the fake upstream, the search provider the fake one (tests/support/fake_search.py) and the MCP servers
the `mcp` SDK's own (tests/support/mcp_server.py), all on loopback behind their recorders: in `replay` (CI) none of
them runs and every model call, search and MCP session is answered from tests/responses/recordings.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import httpx
import openai
import pytest

from tests.support.fake_search import KEY, results_for
from tests.support.inference import provider_yaml, recorder_env, recordings, sdk, start_inference_server
from tests.support.mcp_recording import MCP_CLIENT_CLASS
from tests.support.mcp_server import GUARD_TOKEN, McpTestServer
from tests.support.waiting import wait_until

RECORDINGS = recordings("responses")
MAX_RESULTS = 3
QUERY = "prompt tools in stackadmin"
TOKEN = GUARD_TOKEN  # what the guarded MCP server wants; must be nowhere in the server's home
ADD = '#call:add{"a": 4, "b": 5}'
GET_TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}


def tools_yaml(search_url: str) -> str:
    return f"""
tools:
  mcp:
    allowed_hosts: ["127.0.0.1"]
    call_timeout: 2
  web_search:
    provider: tavily
    api_key: {KEY}
    base_url: "{search_url}"
    timeout_seconds: 2
    max_results: {MAX_RESULTS}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream, search_url):
    env = {"STACKADMIN_MCP_CLIENT_CLASS": MCP_CLIENT_CLASS, **recorder_env(RECORDINGS)}
    config = provider_yaml(upstream.url) + tools_yaml(search_url)
    running = start_inference_server(tmp_path_factory.mktemp("prompt-tools"), RECORDINGS, config, env=env)
    yield running
    running.stop()


@pytest.fixture
def client(server):
    return sdk(server)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url + "/v1", timeout=30) as session:
        yield session


def prompt(http, says: str, tools: list[dict], **settings) -> str:
    """A chat prompt whose user message is `says` (the fake model's cue), with the model and `tools` it runs."""
    body = {"messages": [{"role": "user", "content": says}], "model": "fake-model", "tools": tools, **settings}
    answer = http.post("/prompts", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["prompt_id"]


def mcp_tool(server: McpTestServer, label: str = "tests", **fields) -> dict:
    return {"type": "mcp", "server_label": label, "server_url": server.url, "require_approval": "never", **fields}


def types(response) -> list[str]:
    return [item.type for item in response.output]


def streamed(stream) -> tuple[list[str], object]:
    """The stream's event types, and the response its `response.completed` event carries."""
    events = list(stream)
    return [event.type for event in events], events[-1].response


# ------------------------------------------------------------------------------------------ web search
def test_a_prompts_web_search_runs_with_no_model_and_no_tools(client, http):
    prompt_id = prompt(http, f"#search:{QUERY}", [{"type": "web_search"}])
    response = client.responses.create(prompt={"id": prompt_id})
    assert response.status == "completed"
    assert types(response) == ["web_search_call", "message"]
    call = response.output[0]
    assert (call.status, call.action.query) == ("completed", QUERY)
    assert response.model == "fake-model"
    assert [tool.type for tool in response.tools] == ["web_search"]
    first = results_for(QUERY, MAX_RESULTS)[0]
    assert f"[1] {first['title']}\nURL: {first['url']}" in response.output_text
    assert client.responses.retrieve(response.id).model_dump() == response.model_dump()


def test_the_prompts_tools_run_as_the_requests_would(client, http):
    """The same events, items and answer as a request that gives the tool itself."""
    prompt_id = prompt(http, f"#search:{QUERY}", [{"type": "web_search"}])
    from_prompt, by_prompt = streamed(client.responses.create(prompt={"id": prompt_id}, stream=True))
    from_request, by_request = streamed(
        client.responses.create(
            model="fake-model", input=f"#search:{QUERY}", tools=[{"type": "web_search"}], stream=True
        )
    )
    assert from_prompt == from_request
    assert "response.web_search_call.searching" in from_prompt
    assert types(by_prompt) == types(by_request)
    assert by_prompt.output_text == by_request.output_text
    assert [t.model_dump() for t in by_prompt.tools] == [t.model_dump() for t in by_request.tools]


def test_a_request_that_gives_tools_replaces_the_prompts(client, http):
    prompt_id = prompt(http, "#echo", [{"type": "web_search"}])
    response = client.responses.create(prompt={"id": prompt_id}, tools=[GET_TIME])
    assert [tool.type for tool in response.tools] == ["function"]
    offered = json.loads(response.output_text)["params"]["tools"]
    assert [tool["function"]["name"] for tool in offered] == ["get_time"]


# ------------------------------------------------------------------------------------------ MCP
def test_a_prompts_mcp_tool_is_listed_and_called(client, http, mcp):
    prompt_id = prompt(http, ADD, [mcp_tool(mcp)])
    response = client.responses.create(prompt={"id": prompt_id})
    assert response.status == "completed"
    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    listing, call, _ = response.output
    assert listing.server_label == "tests"
    assert (call.name, call.output, call.status) == ("add", "9", "completed")
    assert response.output_text == "The function returned: 9"
    assert response.tools[0].server_url == mcp.url


def test_a_prompt_mcp_host_not_allowed_is_a_400_naming_it(client, http):
    unlisted = {"type": "mcp", "server_label": "far", "server_url": "https://mcp.not-allowed.example/mcp"}
    prompt_id = prompt(http, ADD, [{"type": "web_search"}, unlisted])  # saved: the operator may allow it later
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id})
    assert caught.value.param == "prompt.tools[1].server_url"
    assert "'mcp.not-allowed.example' is not allowed" in caught.value.message
    assert caught.value.code == "mcp_host_not_allowed"


def test_request_time_headers_for_a_prompts_mcp_server_are_used_and_not_stored(client, http, server, guarded):
    prompt_id = prompt(http, '#call:echo{"text": "let in"}', [{"type": "web_search"}, mcp_tool(guarded, "guarded")])
    credentials = {"type": "mcp", "server_label": "guarded", "authorization": TOKEN}
    response = client.responses.create(prompt={"id": prompt_id}, tools=[credentials])
    assert types(response) == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].output == "let in"  # the guarded server answers 401 without the token
    assert [tool.type for tool in response.tools] == ["web_search", "mcp"]  # the prompt's tools, all of them
    assert response.tools[1].server_url == guarded.url
    assert response.tools[1].authorization is None
    assert TOKEN not in json.dumps(client.responses.retrieve(response.id).model_dump())
    assert TOKEN not in http.get(f"/prompts/{prompt_id}").text
    with contextlib.closing(sqlite3.connect(server.home / "sql_store.db")) as db:
        row = db.execute(
            "SELECT response, input_items, messages FROM openai_responses WHERE public_id = ?", (response.id,)
        ).fetchone()
    assert all(TOKEN not in column for column in row)
    for path in server.home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_without_request_time_headers_the_guarded_server_refuses(client, http, guarded):
    prompt_id = prompt(http, "hi", [mcp_tool(guarded, "guarded-bare")])
    response = client.responses.create(prompt={"id": prompt_id})
    assert response.status == "failed"
    assert "HTTP 401" in response.output[0].error


def test_headers_for_a_label_the_prompt_lacks_are_a_400(client, http, mcp):
    prompt_id = prompt(http, "hi", [mcp_tool(mcp)])
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            prompt={"id": prompt_id}, tools=[{"type": "mcp", "server_label": "other", "authorization": "t"}]
        )
    assert caught.value.param == "tools[0].server_url"
    assert "has no MCP tool labelled 'other'" in caught.value.message


def test_a_version_holding_mcp_secrets_is_refused(http, mcp):
    body = {"prompt": "hi", "tools": [mcp_tool(mcp, headers={"X-Key": "k"})]}
    answer = http.post("/prompts", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "tools[0].headers"
    assert "never stored at rest in prompts" in error["message"]


def test_a_background_response_runs_the_prompts_tools(client, http, mcp):
    prompt_id = prompt(http, ADD, [mcp_tool(mcp)])
    queued = client.responses.create(prompt={"id": prompt_id}, background=True)
    done = wait_until(
        lambda: (r := client.responses.retrieve(queued.id)).status not in ("queued", "in_progress") and r,
        timeout=30,
    )
    assert done.status == "completed"
    assert types(done) == ["mcp_list_tools", "mcp_call", "message"]
    assert done.output[1].output == "9"


def test_background_refuses_request_time_mcp_headers_for_a_prompt(client, http, mcp):
    prompt_id = prompt(http, ADD, [mcp_tool(mcp)])
    credentials = {"type": "mcp", "server_label": "tests", "headers": {"X-Key": "k"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id}, tools=[credentials], background=True)
    assert caught.value.param == "tools[0].headers"
