"""`POST /v1/responses/compact` through the OpenAI SDK: a conversation made short by the model, in OpenAI's shape,
and the compaction item taken back as input."""

from __future__ import annotations

import json

import openai
import pytest

MODEL = "fake-model"
SUMMARY = "Hello! You said: Summarize the conversation above for its continuation."  # what the fake answers


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def test_compact_input_keeps_the_user_messages_and_adds_one_compaction_item(client):
    compacted = client.responses.compact(
        model=MODEL, input=[user("My name is Ada."), assistant("Hello Ada."), user("I live in Oslo.")]
    )
    assert compacted.object == "response.compaction"
    assert compacted.id.startswith("resp_")
    assert [item.type for item in compacted.output] == ["message", "message", "compaction"]
    assert [item.content[0].text for item in compacted.output[:2]] == ["My name is Ada.", "I live in Oslo."]
    assert compacted.output[-1].encrypted_content
    assert compacted.usage.total_tokens > 0


def test_compact_a_previous_response_chain(client):
    first = client.responses.create(model=MODEL, input="My name is Ada.")
    second = client.responses.create(model=MODEL, input="I live in Oslo.", previous_response_id=first.id)
    compacted = client.responses.compact(model=MODEL, previous_response_id=second.id, input="And I like tea.")
    texts = [item.content[0].text for item in compacted.output if item.type == "message"]
    assert texts == ["My name is Ada.", "I live in Oslo.", "And I like tea."]
    assert compacted.output[-1].type == "compaction"


def test_the_compaction_item_goes_back_to_the_model_as_its_summary(client):
    raw = client.responses.with_raw_response.compact(
        model=MODEL, input=[user("My name is Ada."), assistant("Hello Ada.")]
    )
    items = raw.http_response.json()["output"]  # as a client sends them back: the JSON it was given
    answer = client.responses.create(model=MODEL, input=[*items, user("#echo what do you remember?")])
    sent = json.loads(answer.output_text)["messages"]
    assert sent[1] == {"role": "system", "content": "Summary of the earlier conversation (compacted):\n" + SUMMARY}
    assert [m["role"] for m in sent] == ["user", "system", "user"]


def test_compact_of_an_unknown_response_is_a_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.compact(model=MODEL, previous_response_id="resp_" + "0" * 48)
    assert caught.value.body["param"] == "previous_response_id"


def test_a_compaction_item_not_made_here_is_a_400(client):
    forged = {"type": "compaction", "encrypted_content": "gAAAAABnot-ours"}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input=[user("hi"), forged])
    assert caught.value.body["param"] == "input[1].encrypted_content"
    assert caught.value.code == "invalid_encrypted_content"


def test_compact_needs_something_to_compact_and_a_model(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.compact(model=MODEL)
    assert caught.value.body["param"] == "input"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.compact(model=None, input="x")
    assert caught.value.body["param"] == "model"


def test_compact_with_an_unknown_model_is_a_404(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.compact(model="gpt-nope", input="x")
