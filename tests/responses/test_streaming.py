"""Responses streaming: OpenAI's SSE, event by event, with the SDK's helper and with `stream=True`."""

from __future__ import annotations

import json
from typing import get_args

import httpx
import openai
import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import BaseModel

from tests.support.inference import provider_yaml, recordings, start_inference_server
from tests.support.outages import refuse_inserts

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


def test_text_stream_with_the_helper(client):
    with client.responses.stream(model="fake-model", input="stream please") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert (
        "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello! You said: stream please"
    )
    assert events[-4].text == final.output_text == "Hello! You said: stream please"
    assert final.usage.total_tokens > 0
    assert final.status == "completed"
    assert client.responses.retrieve(final.id).output_text == final.output_text


EVENT_CLASSES = {
    cls.model_fields["type"].annotation.__args__[0]: cls.__name__ for cls in get_args(get_args(ResponseStreamEvent)[0])
}
WITH_RESPONSE_ID = {
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
}


@pytest.mark.parametrize(
    "create",
    [
        {"input": "stream please"},
        {"input": 'What is the weather? #call:get_weather{"city": "Paris"}', "tools": TOOLS},
    ],
    ids=["text", "function_call"],
)
def test_every_event_validates_as_openai_s_and_names_its_response(client, create):
    """Each event is OpenAI's event class, validated (not only constructed); those llama-stack's models require it
    of also carry `response_id` (an extra field for OpenAI's SDK)."""
    events = list(client.responses.create(model="fake-model", stream=True, **create))
    response_id = events[-1].response.id
    for event in events:
        assert isinstance(event, BaseModel)
        assert type(event).__name__ == EVENT_CLASSES[event.type]
        type(event).model_validate(event.to_dict())  # every field as OpenAI's model requires it
    assert {e.type for e in events if (e.model_extra or {}).get("response_id") == response_id} == {
        e.type for e in events if e.type in WITH_RESPONSE_ID
    }
    assert WITH_RESPONSE_ID & {e.type for e in events}


def test_stream_true_and_the_wire_format(responses_server, client):
    events = list(client.responses.create(model="fake-model", input="wire", stream=True))
    assert events[0].type == "response.created"
    assert events[0].response.status == "in_progress"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output[0].content[0].text.endswith("wire")
    with httpx.stream(
        "POST", responses_server.url + "/v1/responses", json={"model": "fake-model", "input": "wire", "stream": True}
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["cache-control"] == "no-cache"
        assert raw.headers["x-accel-buffering"] == "no"
        blocks = raw.read().decode().strip().split("\n\n")
    for sequence, block in enumerate(blocks):
        event_line, data_line = block.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        assert data["sequence_number"] == sequence


def test_function_call_events(client):
    events = list(
        client.responses.create(
            model="fake-model",
            input='What is the weather? #call:get_weather{"city": "Paris"}',
            tools=TOOLS,
            stream=True,
        )
    )
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[2].item, events[6].item
    assert (added.type, added.name, added.status, added.arguments) == (
        "function_call",
        "get_weather",
        "in_progress",
        "",
    )
    assert events[5].arguments == '{"city": "Paris"}'
    assert events[5].item_id == added.id
    assert (done.status, done.call_id, done.arguments) == ("completed", added.call_id, '{"city": "Paris"}')
    assert events[-1].response.output[0].call_id == added.call_id


def test_helper_accumulates_function_call_arguments(client):
    with client.responses.stream(model="fake-model", input='#call:get_weather{"city": "Oslo"}', tools=TOOLS) as stream:
        deltas = [e for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    assert deltas[-1].snapshot == '{"city": "Oslo"}'
    assert final.output[0].arguments == '{"city": "Oslo"}'


def test_upstream_failure_midstream_ends_with_response_failed(client):
    events = []
    for event in client.responses.create(model="fake-model", input="#midstream break it", stream=True):
        events.append(event)
    assert [e.type for e in events[:4]] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.sequence_number == len(events) - 1
    assert failed.response.status == "failed"
    assert failed.response.error.code == "server_error"
    assert "could not be reached or closed the connection" in failed.response.error.message
    assert failed.response.output[0].status == "incomplete"
    stored = client.responses.retrieve(failed.response.id)
    assert stored.status == "failed"
    assert stored.error.code == "server_error"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="go on", previous_response_id=stored.id)
    assert caught.value.code == "invalid_previous_response"


def test_stream_garbage_chunk_fails_the_response(client):
    events = list(client.responses.create(model="fake-model", input="#garbage in the stream", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "server_error"
    assert "not valid JSON" in events[-1].response.error.message


def test_errors_before_the_stream_starts_are_http_errors(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-nope", input="x", stream=True)
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="fake-model", input="#fail500", stream=True)
    assert caught.value.status_code == 502


def test_stream_with_store_false_stores_nothing(client):
    events = list(client.responses.create(model="fake-model", input="ephemeral", stream=True, store=False))
    assert events[-1].type == "response.completed"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(events[-1].response.id)


def test_a_stream_whose_store_write_fails_ends_with_response_failed(tmp_path, upstream):
    """The response's row cannot be inserted (the database refuses it): the stream still ends, with
    `response.failed`, and nothing is stored."""
    server = start_inference_server(tmp_path, recordings("responses"), provider_yaml(upstream.url))
    try:
        refuse_inserts(tmp_path / "sql_store.db", "openai_responses")
        body = {"model": "fake-model", "input": "wire", "stream": True}
        with httpx.stream("POST", server.url + "/v1/responses", json=body, timeout=30) as raw:
            blocks = raw.read().decode().strip().split("\n\n")
        events = [json.loads(block.split("\n")[1].removeprefix("data: ")) for block in blocks]
        assert events[-1]["type"] == "response.failed"
        assert events[-1]["response"]["status"] == "failed"
        assert events[-1]["response"]["error"]["code"] == "server_error"
        assert "response.completed" not in [e["type"] for e in events]
        stored = httpx.get(f"{server.url}/v1/responses/{events[0]['response']['id']}", timeout=30)
        assert stored.status_code == 404
    finally:
        server.stop()
