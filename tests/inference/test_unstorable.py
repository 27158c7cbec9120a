"""`/v1/chat/completions` and what no store can hold (apps/core/text.py), on a live server: a request holding it
is a 400 naming the field before the model is called; a model's answer holding it is returned and stored with it
replaced by U+FFFD."""

from __future__ import annotations

import json

import httpx
import pytest

JSON = {"content-type": "application/json"}


@pytest.fixture
def http(inference_server):
    with httpx.Client(base_url=inference_server.url + "/v1", timeout=30) as session:
        yield session


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "hi \x00"}]}, "messages[0].content", "invalid_null_character"),
        ({"messages": [{"role": "user", "content": "hi \udc80"}]}, "messages[0].content", "invalid_unicode"),
        (
            {"messages": [{"role": "user", "content": "hi"}], "metadata": {"k": "\x00"}},
            "metadata.k",
            "invalid_null_character",
        ),
    ],
)
def test_a_request_no_store_can_hold_is_a_400_before_the_model_is_called(http, body, param, code):
    response = http.post("/chat/completions", content=json.dumps({"model": "fake-model", **body}), headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["code"] == code


def test_unstorable_model_output_is_returned_and_stored_replaced(client):
    completion = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "#unstorable"}]
    )
    assert completion.choices[0].message.content == "nul:\ufffd surrogate:\ufffd"
    stored = client.chat.completions.retrieve(completion.id)
    assert stored.choices[0].message.content == "nul:\ufffd surrogate:\ufffd"
