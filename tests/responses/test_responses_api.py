"""`/v1/responses` create/retrieve/list/delete/input_items and bad input, through the OpenAI SDK on a live server."""

from __future__ import annotations

import json

import openai
import pytest


def echo_of(response) -> dict:
    """What the fake model server was sent (the `#echo` cue makes it answer with that)."""
    return json.loads(response.output_text)


def test_string_input_makes_a_stored_completed_response(client):
    response = client.responses.create(model="fake-model", input="hello there", metadata={"case": "basic"})
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert (response.status, response.model, response.store) == ("completed", "fake-model", True)
    assert response.output_text == "Hello! You said: hello there"
    (message,) = response.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert message.id.startswith("msg_")
    assert message.content[0].type == "output_text"
    assert response.usage.input_tokens == 2
    assert response.usage.output_tokens == 5
    assert response.usage.total_tokens == 7
    assert response.metadata == {"case": "basic"}
    assert response.completed_at >= response.created_at
    assert (response.temperature, response.top_p, response.tool_choice, response.truncation) == (
        1.0,
        1.0,
        "auto",
        "disabled",
    )

    stored = client.responses.retrieve(response.id)
    assert stored.to_dict() == response.to_dict()
    (item,) = client.responses.input_items.list(response.id).data
    assert (item.type, item.role, item.content[0].text) == ("message", "user", "hello there")


def test_items_input_instructions_and_sampling_parameters_reach_the_model(client):
    response = client.responses.create(
        model="alias-model",
        instructions="Answer in French.",
        input=[
            {"role": "developer", "content": "Be terse."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "#echo"}]},
        ],
        temperature=0.25,
        top_p=0.5,
        max_output_tokens=500,
    )
    sent = echo_of(response)
    assert sent["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "#echo"},
    ]
    assert sent["params"] == {"temperature": 0.25, "top_p": 0.5, "max_completion_tokens": 500}
    assert (response.model, response.instructions, response.max_output_tokens) == (
        "alias-model",
        "Answer in French.",
        500,
    )


def test_max_output_tokens_cut_makes_an_incomplete_response(client):
    words = " ".join(f"w{n}" for n in range(40))
    response = client.responses.create(model="fake-model", input=words, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert len(response.output_text.split()) == 16


def test_json_schema_text_format(client):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    text = {"format": {"type": "json_schema", "name": "city_info", "schema": schema, "strict": True}}
    response = client.responses.create(model="fake-model", input="Tell me about Paris", text=text)
    assert json.loads(response.output_text) == {"city": "sample", "population": 42}
    assert response.text.format.type == "json_schema"
    assert response.text.format.name == "city_info"
    sent = echo_of(client.responses.create(model="fake-model", input="#echo", text=text))
    assert sent["params"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city_info", "schema": schema, "strict": True},
    }


def test_store_false_leaves_no_row(client):
    response = client.responses.create(model="fake-model", input="do not keep this", store=False)
    assert response.store is False
    assert response.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="continue", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"


def test_delete(client):
    response = client.responses.create(model="fake-model", input="delete me")
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_list_pages_and_filters_by_model(http, client):
    ids = [client.responses.create(model="alias-model", input=f"listed {n}").id for n in range(3)]
    page = http.get("/responses", params={"model": "alias-model", "limit": 2}).json()
    assert [r["id"] for r in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    assert page["data"][0]["input"][0]["content"][0]["text"] == "listed 2"
    rest = http.get("/responses", params={"model": "alias-model", "limit": 2, "after": page["last_id"]}).json()
    assert ids[0] in [r["id"] for r in rest["data"]]
    oldest = http.get("/responses", params={"model": "alias-model", "order": "asc", "limit": 100}).json()["data"]
    assert [r["id"] for r in oldest if r["id"] in ids] == ids
    assert all(r["model"] == "alias-model" for r in oldest)
    assert http.get("/responses", params={"limit": 0}).status_code == 400
    assert http.get("/responses", params={"after": "resp_nope"}).json()["error"]["param"] == "after"


def test_input_items_paging(client):
    texts = [f"item {n}" for n in range(5)]
    response = client.responses.create(
        model="fake-model", input=[{"role": "user", "content": t} for t in texts], store=True
    )
    items = client.responses.input_items
    newest = items.list(response.id, limit=2)  # default order: newest first
    assert [i.content[0].text if isinstance(i.content, list) else i.content for i in newest.data] == [
        "item 4",
        "item 3",
    ]
    assert newest.has_more
    assert newest.first_id == newest.data[0].id
    after = items.list(response.id, limit=2, after=newest.last_id)
    assert [i.content for i in after.data] == ["item 2", "item 1"]
    oldest = items.list(response.id, order="asc", limit=10)
    ids = [i.id for i in oldest.data]
    assert [i.content for i in oldest.data] == texts
    assert not oldest.has_more
    before = items.list(response.id, order="asc", limit=2, extra_query={"before": ids[3]})
    assert [i.id for i in before.data] == ids[1:3]
    with pytest.raises(openai.BadRequestError):
        items.list(response.id, after="msg_unknown")
    with pytest.raises(openai.NotFoundError):
        items.list("resp_unknown")


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"temperature": 2.5}, "temperature", "invalid_value"),
        ({"top_p": 1.5}, "top_p", "invalid_value"),
        ({"max_output_tokens": 8}, "max_output_tokens", "invalid_value"),
        ({"tools": [{"type": "function"}]}, "tools[0].name", "missing_required_parameter"),
        ({"tools": [{"type": "function", "name": "has space"}]}, "tools[0].name", "invalid_value"),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"type": "nonsense"}}]},
            "tools[0].parameters",
            "invalid_schema",
        ),
        (
            {"tools": [{"type": "function", "name": "f", "parameters": {"type": "array"}}]},
            "tools[0].parameters",
            "invalid_schema",
        ),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0].type", "unsupported_tool"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type", "web_search_not_configured"),
        ({"tool_choice": {"type": "function", "name": "missing"}}, "tool_choice.name", "invalid_value"),
        ({"tool_choice": "required"}, "tool_choice", "invalid_value"),
        (
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": 12}}}},
            "text.format.schema",
            "invalid_schema",
        ),
        (
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "string"}}}},
            "text.format.schema",
            "invalid_schema",
        ),
        (
            {
                "text": {
                    "format": {
                        "type": "json_schema",
                        "name": "x",
                        "strict": True,
                        "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                    }
                }
            },
            "text.format.schema",
            "invalid_schema",
        ),
        (
            {"text": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            "text.format.name",
            "invalid_value",
        ),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type", "invalid_value"),
        ({"metadata": {"k": 1}}, "metadata.k", "invalid_type"),
        (
            {"input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]},
            "input[0].call_id",
            "function_call_not_found",
        ),
        (
            {"input": [{"type": "web_search_call"}, {"type": "item_reference", "id": "x"}]},
            "input[1].type",
            "invalid_value",
        ),
        ({"background": True, "store": False}, "store", "invalid_value"),
        ({"truncation": "everything"}, "truncation", "invalid_value"),
        ({"conversation": "conv_123"}, "conversation", "invalid_value"),
        ({"previous_response_id": "resp_unknown"}, "previous_response_id", "previous_response_not_found"),
        ({"extra_body": {"frobnicate": True}}, "frobnicate", "unknown_parameter"),
    ],
)
def test_caller_mistakes_are_400s_naming_the_parameter(client, kwargs, param, code):
    arguments = {"model": "fake-model", "input": "bad input test", **kwargs}
    before = [r["id"] for r in client.get("/responses", cast_to=object, options={"params": {"limit": 5}})["data"]]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**arguments)
    assert (caught.value.body["param"], caught.value.code) == (param, code), caught.value.message
    after = [r["id"] for r in client.get("/responses", cast_to=object, options={"params": {"limit": 5}})["data"]]
    assert after == before  # no half-stored response


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_previous_response_is_openai_s_400(client, stream):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="x", previous_response_id="resp_unknown", stream=stream)
    assert caught.value.body == {
        "message": "Previous response with id 'resp_unknown' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.responses.retrieve("resp_unknown"),
        lambda client: client.responses.delete("resp_unknown"),
        lambda client: client.responses.input_items.list("resp_unknown"),
    ],
    ids=["retrieve", "delete", "input_items"],
)
def test_an_unknown_response_is_a_404_saying_not_found(client, call):
    with pytest.raises(openai.NotFoundError) as caught:
        call(client)
    assert caught.value.body["message"].startswith("Response with id 'resp_unknown' not found.")
    assert caught.value.body["type"] == "invalid_request_error"


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-nope", input="x")
    assert caught.value.code == "model_not_found"
    assert "gpt-nope" in caught.value.message


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [("#fail500", 502, "upstream_error"), ("#garbage", 502, "upstream_invalid_response"), ("#slow:5", 504, "timeout")],
)
def test_upstream_failures_are_502_or_504_and_store_nothing(client, text, status, code):
    before = client.get("/responses", cast_to=object, options={"params": {"limit": 1}})["data"]
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="fake-model", input=text)
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert client.get("/responses", cast_to=object, options={"params": {"limit": 1}})["data"] == before
