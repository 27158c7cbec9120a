"""`/v1/responses` and what no store can hold (apps/core/text.py), on a live server: a request with a lone
surrogate, NUL, NaN or nesting past 64 levels is a 400 naming the field before the model is called, and nothing
is stored; a model's answer holding such text is returned and stored with it replaced by U+FFFD."""

from __future__ import annotations

import json

import pytest

JSON = {"content-type": "application/json"}


def nested_schema(levels: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def newest_response_id(http) -> str | None:
    data = http.get("/responses", params={"limit": 1}).json()["data"]
    return data[0]["id"] if data else None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"input": "hi \udc80"}, "input", "invalid_unicode"),
        ({"input": "hi \x00"}, "input", "invalid_null_character"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "\udc80"}]}]},
            "input[0].content[0].text",
            "invalid_unicode",
        ),
        ({"input": "hi", "metadata": {"k\udc80": "v"}}, "metadata.k\\udc80", "invalid_unicode"),
        ({"input": "hi", "temperature": float("nan")}, "temperature", "invalid_number"),
        (
            {"input": "hi", "text": {"format": {"type": "json_schema", "name": "deep", "schema": nested_schema(96)}}},
            "text.format.schema" + ".properties.a" * 30 + ".properties",
            "nesting_too_deep",
        ),
        (
            {
                "input": "hi",
                "tools": [{"type": "function", "name": "f", "parameters": nested_schema(96)}],
            },
            "tools[0].parameters" + ".properties.a" * 30 + ".properties",
            "nesting_too_deep",
        ),
    ],
)
def test_a_request_no_store_can_hold_is_a_400_before_the_model_is_called(http, body, param, code):
    newest = newest_response_id(http)
    response = http.post("/responses", content=json.dumps({"model": "fake-model", **body}), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["code"] == code
    assert newest_response_id(http) == newest


def test_unstorable_model_output_is_returned_and_stored_replaced(client):
    response = client.responses.create(model="fake-model", input="#unstorable")
    assert response.output_text == "nul:\ufffd surrogate:\ufffd"
    assert client.responses.retrieve(response.id).output_text == "nul:\ufffd surrogate:\ufffd"


def test_unstorable_model_output_in_a_stream_is_replaced(client):
    with client.responses.stream(model="fake-model", input="#unstorable") as stream:
        final = stream.get_final_response()
    assert final.output_text == "nul:\ufffd surrogate:\ufffd"
    assert client.responses.retrieve(final.id).output_text == "nul:\ufffd surrogate:\ufffd"
