"""OpenAI prompt objects on `/v1/prompts`: chat templates (`messages`) and model settings on a version."""

from __future__ import annotations

import httpx
import pytest

from tests.prompts.test_api import SETTINGS, assert_error

MESSAGES = [
    {"role": "system", "content": "You are a {{ role }} for {{ company }}."},
    {"role": "user", "content": [{"type": "input_text", "text": "Greet {{ customer_name }}."}]},
]
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def api(stackadmin_server):
    with httpx.Client(base_url=stackadmin_server.url + "/v1", timeout=30) as client:
        yield client


def chat_prompt(api, **extra) -> dict:
    body = {"messages": MESSAGES, "variables": ["role", "company", "customer_name"], **extra}
    response = api.post("/prompts", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_chat_prompt_with_settings_round_trips(api):
    settings = {
        "model": "gpt-5",
        "temperature": 0.3,
        "top_p": 0.9,
        "max_output_tokens": 500,
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_object"}},
        "reasoning": {"effort": "low"},
        "truncation": "disabled",
    }
    created = chat_prompt(api, **settings)
    assert created["messages"] == MESSAGES
    assert created["variables"] == ["role", "company", "customer_name"]
    # llama-stack clients read `prompt`: the messages as text, each under its role.
    assert created["prompt"] == (
        "[system]\nYou are a {{ role }} for {{ company }}.\n\n[user]\nGreet {{ customer_name }}."
    )
    stored_tool = {**WEATHER_TOOL, "strict": None}
    assert {name: created[name] for name in SETTINGS} == {**settings, "tools": [stored_tool]}
    fetched = api.get(f"/prompts/{created['prompt_id']}").json()
    assert fetched == created
    assert api.get(f"/prompts/{created['prompt_id']}/versions").json()["data"] == [created]


def test_an_openai_message_item_form_is_accepted_and_stored_plainly(api):
    messages = [{"type": "message", "role": "developer", "content": "Be brief."}]
    created = api.post("/prompts", json={"messages": messages}).json()
    assert created["messages"] == [{"role": "developer", "content": "Be brief."}]
    assert created["model"] is None


def test_a_text_prompt_has_no_messages_and_null_settings(api):
    created = api.post("/prompts", json={"prompt": "Hi", "model": "gpt-5", "temperature": 1.5}).json()
    assert created["messages"] is None
    assert (created["model"], created["temperature"], created["tools"]) == ("gpt-5", 1.5, None)


def test_an_update_replaces_messages_and_settings(api):
    created = chat_prompt(api, model="gpt-5", temperature=0.3)
    pid = created["prompt_id"]
    v2 = api.put(
        f"/prompts/{pid}",
        json={"version": 1, "messages": [{"role": "user", "content": "Hello {{ name }}"}], "variables": ["name"]},
    ).json()
    assert v2["messages"] == [{"role": "user", "content": "Hello {{ name }}"}]
    assert (v2["model"], v2["temperature"]) == (None, None)  # nothing is inherited
    # A chat prompt can become a text prompt again, as llama-stack's update does it.
    v3 = api.put(f"/prompts/{pid}", json={"version": 2, "prompt": "Plain"}).json()
    assert (v3["messages"], v3["prompt"]) == (None, "Plain")
    v1 = api.get(f"/prompts/{pid}", params={"version": 1}).json()
    assert (v1["messages"], v1["model"]) == (MESSAGES, "gpt-5")


def test_the_version_object_can_be_sent_back_as_it_came(api):
    created = chat_prompt(api, model="gpt-5")
    pid = created["prompt_id"]
    echo = {name: created[name] for name in ("prompt", "messages", "variables", "model")}
    v2 = api.put(f"/prompts/{pid}", json={**echo, "version": 1})
    assert v2.status_code == 200, v2.text
    assert v2.json()["messages"] == MESSAGES


@pytest.mark.parametrize(
    ("body", "param", "contains"),
    [
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", "'tool'"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "Missing required parameter"),
        ({"messages": []}, "messages", "at least 1"),
        (
            {"messages": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]},
            "messages[0].content[0].type",
            "system messages cannot hold input_image parts",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "messages[0].content[0]",
            "exactly one of image_url, file_id",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_file", "file_id": "nope"}]}]},
            "messages[0].content[0].file_id",
            "file ids are",
        ),
        ({"messages": [{"role": "user", "content": "Hi {{ name }}"}]}, "variables", "undeclared variables"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_text", "text": "{{ bad"}]}]},
            "messages[0].content[0].text",
            "malformed placeholder",
        ),
        ({"messages": [{"role": "user", "content": "Hi"}], "prompt": "Other"}, "prompt", "either"),
        ({"prompt": "Hi", "temperature": 3}, "temperature", "less than or equal to 2"),
        ({"prompt": "Hi", "temperature": "warm"}, "temperature", "valid number"),
        ({"prompt": "Hi", "max_output_tokens": 2}, "max_output_tokens", "greater than or equal to 16"),
        ({"prompt": "Hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort", "'extreme'"),
        ({"prompt": "Hi", "truncation": "everything"}, "truncation", "'auto' or 'disabled'"),
        ({"prompt": "Hi", "model": ""}, "model", "model id"),
        (
            {"prompt": "Hi", "tools": [{"type": "function", "name": "f", "parameters": {"type": "nonsense"}}]},
            "tools[0].parameters",
            "Invalid schema",
        ),
        (
            {"prompt": "Hi", "tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "name": "other"}},
            "tool_choice.name",
            "'other' is not a function",
        ),
        (
            {"prompt": "Hi", "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "string"}}}},
            "text.format.schema",
            "must be of type 'object'",
        ),
        ({}, "prompt", "Missing required parameter: 'prompt'"),
    ],
)
def test_bad_content_is_a_400_naming_the_field_and_nothing_is_stored(api, body, param, contains):
    before = len(api.get("/prompts").json()["data"])
    assert_error(api.post("/prompts", json=body), 400, param=param, contains=contains)
    assert len(api.get("/prompts").json()["data"]) == before


def test_a_bad_update_leaves_the_prompt_as_it_was(api):
    created = chat_prompt(api, model="gpt-5")
    pid = created["prompt_id"]
    bad = api.put(f"/prompts/{pid}", json={"version": 1, "messages": [{"role": "user", "content": 5}]})
    assert_error(bad, 400, param="messages[0].content")
    assert [v["version"] for v in api.get(f"/prompts/{pid}/versions").json()["data"]] == [1]
