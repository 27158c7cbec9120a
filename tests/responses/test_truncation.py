"""`truncation: "auto"`: the oldest turns of a long history are left out of what the model is sent, to fit the
registered model's `metadata.context_length`; `disabled` (the default) sends everything."""

from __future__ import annotations

import json

import pytest

from tests.support.inference import PROVIDER_TIMEOUT, sdk, start_inference_server

from .conftest import RECORDINGS

TURNS = ["My name is Ada.", "I live in Paris.", "What is my name?"]


@pytest.fixture(scope="module")
def small_window_server(tmp_path_factory, upstream):
    config = f"""
providers:
  inference:
  - provider_id: fake
    provider_type: remote::openai
    config: {{base_url: "{upstream.url}", api_key: test-key, timeout: {PROVIDER_TIMEOUT}, max_retries: 0}}
registered_resources:
  models:
  - model_id: small-window
    provider_id: fake
    provider_model_id: fake-model
    metadata: {{context_length: 70}}
  - model_id: no-window
    provider_id: fake
    provider_model_id: fake-model
"""
    server = start_inference_server(tmp_path_factory.mktemp("truncation"), RECORDINGS, config)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chain(small_window_server):
    """Three turns over `previous_response_id` (about 83 estimated tokens of history)."""
    client = sdk(small_window_server)
    previous = None
    for text in TURNS:
        previous = client.responses.create(
            model="small-window", input=text, previous_response_id=previous.id if previous else None
        )
    return previous.id


def sent(response) -> list[str]:
    return [m["content"] for m in json.loads(response.output_text)["messages"]]


def test_auto_drops_the_oldest_turns_to_fit_the_window(small_window_server, chain):
    response = sdk(small_window_server).responses.create(
        model="small-window", input="#echo", previous_response_id=chain, truncation="auto"
    )
    assert response.truncation == "auto"
    assert sent(response) == [
        "I live in Paris.",
        "Hello! You said: I live in Paris.",
        "What is my name?",
        "Hello! You said: What is my name?",
        "#echo",
    ]


def test_room_is_kept_for_the_output(small_window_server, chain):
    response = sdk(small_window_server).responses.create(
        model="small-window", input="#echo", previous_response_id=chain, truncation="auto", max_output_tokens=1000
    )
    assert sent(response) == ["#echo"]  # not even the last turn fits beside 1000 output tokens; the input is sent


def test_disabled_sends_the_whole_history(small_window_server, chain):
    response = sdk(small_window_server).responses.create(
        model="small-window", input="#echo", previous_response_id=chain
    )
    assert response.truncation == "disabled"
    assert len(sent(response)) == 7


def test_what_was_dropped_is_still_stored(small_window_server, chain):
    client = sdk(small_window_server)
    truncated = client.responses.create(
        model="small-window", input="Thanks.", previous_response_id=chain, truncation="auto"
    )
    follow_up = client.responses.create(model="small-window", input="#echo", previous_response_id=truncated.id)
    assert sent(follow_up)[:2] == ["My name is Ada.", "Hello! You said: My name is Ada."]
    assert len(sent(follow_up)) == 9


def test_a_model_without_a_window_is_sent_everything(small_window_server):
    client = sdk(small_window_server)
    first = client.responses.create(model="no-window", input=TURNS[0])
    response = client.responses.create(
        model="no-window", input="#echo", previous_response_id=first.id, truncation="auto"
    )
    assert sent(response) == [TURNS[0], f"Hello! You said: {TURNS[0]}", "#echo"]
