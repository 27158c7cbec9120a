"""`/v1/models` and `/v1/chat/completions` through the OpenAI SDK against a live server (record/replay upstream)."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.outages import refuse_inserts

RECORDINGS = recordings("inference")


def ask(client, text: str, **kwargs):
    return client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": text}], **kwargs)


def test_models_are_the_registered_ones(client):
    models = client.models.list()
    assert [(m.id, m.owned_by) for m in models.data] == [("fake-model", "fake"), ("alias-model", "fake")]
    assert client.models.retrieve("alias-model").id == "alias-model"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert "no-such-model" in caught.value.message


def test_completion_is_stored_and_readable_at_once(client):
    completion = ask(client, "remember me", metadata={"topic": "tests"})
    assert completion.choices[0].message.content == "Hello! You said: remember me"
    stored = client.chat.completions.retrieve(completion.id)
    assert stored.choices[0].message.content == "Hello! You said: remember me"
    assert stored.usage.total_tokens == completion.usage.total_tokens
    assert stored.model_extra["input_messages"] == [{"role": "user", "content": "remember me"}]
    assert stored.to_dict()["metadata"] == {"topic": "tests"}
    messages = client.chat.completions.messages.list(completion.id)
    assert [(m.id, m.role, m.content) for m in messages.data] == [(f"{completion.id}-0", "user", "remember me")]


def test_streamed_completion_is_assembled_and_stored(client):
    chunks = list(ask(client, "stream to me", stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: stream to me"
    assert chunks[-1].usage is not None
    assert chunks[-1].choices == []
    stored = client.chat.completions.retrieve(chunks[0].id)
    assert stored.choices[0].message.content == text
    assert stored.choices[0].finish_reason == "stop"
    assert stored.usage.total_tokens == chunks[-1].usage.total_tokens


def test_streamed_tool_calls_are_assembled(client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chunks = list(ask(client, 'find it #call:lookup{"q": "x"}', tools=tools, stream=True))
    stored = client.chat.completions.retrieve(chunks[0].id)
    (call,) = stored.choices[0].message.tool_calls
    assert (call.function.name, call.function.arguments) == ("lookup", '{"q": "x"}')
    assert stored.choices[0].finish_reason == "tool_calls"


def test_alias_model_calls_the_provider_model_and_lists_under_the_alias(client):
    completion = client.chat.completions.create(model="alias-model", messages=[{"role": "user", "content": "alias"}])
    assert completion.model == "fake-model-2"  # what the server answered, passed through
    listed = client.chat.completions.list(model="alias-model", limit=100)
    assert completion.id in [c.id for c in listed.data]
    assert completion.id not in [c.id for c in client.chat.completions.list(model="fake-model", limit=100).data]


def test_list_pages_in_both_orders(client):
    ids = [ask(client, f"page {n}", metadata={"batch": "paging"}).id for n in range(5)]
    newest_first = client.chat.completions.list(limit=3)
    assert [c.id for c in newest_first.data] == ids[::-1][:3]
    assert newest_first.has_more
    rest = client.chat.completions.list(limit=2, after=newest_first.data[-1].id)
    assert [c.id for c in rest.data] == ids[::-1][3:5]
    oldest = client.chat.completions.list(limit=100, order="asc").data
    positions = [[c.id for c in oldest].index(i) for i in ids]
    assert positions == sorted(positions)
    everything = [c.id for c in client.chat.completions.list(limit=100, order="desc")]  # the SDK follows `after`
    assert set(ids) <= set(everything)


def test_message_paging(client):
    completion = client.chat.completions.create(
        model="fake-model",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "part one"}]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "done"},
        ],
    )
    first = client.chat.completions.messages.list(completion.id, limit=2)
    assert [m.role for m in first.data] == ["system", "user"]
    assert first.has_more
    assert first.data[1].content is None
    assert first.data[1].content_parts[0].text == "part one"
    second = client.chat.completions.messages.list(completion.id, limit=2, after=first.data[-1].id)
    assert [m.content for m in second.data] == ["ok", "done"]
    assert not second.has_more
    newest = client.chat.completions.messages.list(completion.id, order="desc", limit=1)
    assert newest.data[0].id == f"{completion.id}-3"


def test_store_false_leaves_no_row(client):
    completion = ask(client, "forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(completion.id)


def test_update_metadata_and_delete(client):
    completion = ask(client, "to be deleted")
    updated = client.chat.completions.update(completion.id, metadata={"k": "v"})
    assert updated.to_dict()["metadata"] == {"k": "v"}
    deleted = client.chat.completions.delete(completion.id)
    assert deleted.deleted
    assert deleted.id == completion.id
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(completion.id)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.delete(completion.id)


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "temperature": 2.5}, "temperature"),
        ({"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "top_p": -1}, "top_p"),
        ({"model": "fake-model", "messages": []}, "messages"),
        ({"model": "fake-model", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        (
            {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
            "tools[0]",
        ),
    ],
)
def test_caller_mistakes_are_400s(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**kwargs)
    assert caught.value.body["param"] == param


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"
    assert "gpt-nope" in caught.value.message


@pytest.mark.parametrize(
    ("text", "status", "code"),
    [
        ("#fail500", 502, "upstream_error"),
        ("#garbage", 502, "upstream_invalid_response"),
        ("#slow:5", 504, "timeout"),
    ],
)
def test_upstream_failures_are_502_or_504_and_store_nothing(client, text, status, code):
    before = client.chat.completions.list(limit=1).data
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client, text)
    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert caught.value.body["type"] == "upstream_error"
    assert client.chat.completions.list(limit=1).data == before


def test_stream_that_breaks_midway_raises_and_stores_nothing(client):
    seen = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in ask(client, "#midstream now", stream=True):
            seen.append(chunk)
    assert seen
    assert "could not be reached or closed the connection" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(seen[0].id)


def test_unparseable_body_is_a_json_400(inference_server):
    response = httpx.post(
        inference_server.url + "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_without_a_provider_the_error_says_how_to_configure_one(tmp_path):
    server = start_inference_server(tmp_path, RECORDINGS, "storage: null\n")
    try:
        client = sdk(server)
        assert client.models.list().data == []
        with pytest.raises(openai.APIStatusError) as caught:
            ask(client, "anyone there?")
        assert caught.value.status_code == 503
        assert caught.value.code == "no_inference_provider"
        assert "providers:" in caught.value.message
        assert "OPENAI_BASE_URL" in caught.value.message
    finally:
        server.stop()


def test_provider_from_environment_serves_the_upstream_models(tmp_path, upstream):
    server = start_inference_server(
        tmp_path, RECORDINGS, "storage: null\n", env={"OPENAI_BASE_URL": upstream.url, "OPENAI_API_KEY": "k"}
    )
    try:
        client = sdk(server)
        assert [m.id for m in client.models.list().data] == ["fake-model", "fake-model-2"]
        assert ask(client, "from the environment").choices[0].message.content.endswith("from the environment")
    finally:
        server.stop()


def test_a_stream_whose_store_write_fails_ends_with_an_error_then_done(tmp_path, upstream):
    """The completion's row cannot be inserted (the database refuses it): the stream ends with an error chunk and
    `[DONE]`, and nothing is stored."""
    server = start_inference_server(tmp_path, RECORDINGS, provider_yaml(upstream.url))
    try:
        refuse_inserts(tmp_path / "sql_store.db", "inference_store")
        body = {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "stream to me"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=30) as raw:
            blocks = raw.read().decode().strip().split("\n\n")
        assert blocks[-1] == "data: [DONE]"
        error = json.loads(blocks[-2].removeprefix("data: "))["error"]
        assert error["code"] == "internal_error"
        first = json.loads(blocks[0].removeprefix("data: "))
        with pytest.raises(openai.NotFoundError):
            sdk(server).chat.completions.retrieve(first["id"])
    finally:
        server.stop()
