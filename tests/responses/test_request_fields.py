"""Request fields OpenAI's `responses.create` accepts and passes to the model: `top_logprobs` (with logprobs on the
output text when `include` asks for them), `service_tier`, `user`, `safety_identifier`, `prompt_cache_key`."""

from __future__ import annotations

import json
from typing import get_args

import openai
import pytest
from openai.types.responses import ResponseStreamEvent

LOGPROBS = ["message.output_text.logprobs"]
EVENT_CLASSES = {
    cls.model_fields["type"].annotation.__args__[0]: cls for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def upstream_params(response) -> dict:
    """What the fake model server was sent (its `#echo` reply)."""
    return json.loads(response.output_text)["params"]


def test_the_fields_are_passed_to_the_model_and_echoed(client):
    response = client.responses.create(
        model="fake-model",
        input="#echo",
        top_logprobs=3,
        service_tier="flex",
        user="user-7",
        safety_identifier="safety-7",
        prompt_cache_key="cache-7",
    )
    assert upstream_params(response) == {
        "logprobs": True,
        "top_logprobs": 3,
        "service_tier": "flex",
        "user": "user-7",
        "safety_identifier": "safety-7",
        "prompt_cache_key": "cache-7",
    }
    assert (response.top_logprobs, response.service_tier) == (3, "flex")
    assert (response.user, response.safety_identifier, response.prompt_cache_key) == ("user-7", "safety-7", "cache-7")
    assert response.output[0].content[0].logprobs == []  # computed, but not asked for with `include`


def test_nothing_is_passed_unless_given(client):
    response = client.responses.create(model="fake-model", input="#echo")
    assert upstream_params(response) == {}
    assert (response.top_logprobs, response.service_tier) == (0, "default")


def test_include_asks_for_logprobs_on_the_output_text(client):
    response = client.responses.create(model="fake-model", input="tell me odds", top_logprobs=2, include=LOGPROBS)
    part = response.output[0].content[0]
    assert [p.token for p in part.logprobs] == ["Hello!", " You", " said:", " tell", " me", " odds"]
    assert "".join(p.token for p in part.logprobs) == part.text
    assert [t.token for t in part.logprobs[1].top_logprobs] == [" You", " You~1"]
    assert part.logprobs[0].logprob == -0.25
    assert part.logprobs[0].bytes == list(b"Hello!")
    assert client.responses.retrieve(response.id).output[0].content[0].logprobs == part.logprobs


def test_include_alone_asks_the_model_for_logprobs(client):
    response = client.responses.create(model="fake-model", input="#echo", include=LOGPROBS)
    assert upstream_params(response) == {"logprobs": True}
    assert response.output[0].content[0].logprobs  # one per token of the echo


def test_a_stream_carries_logprobs_on_deltas_and_done_events(client):
    events = list(
        client.responses.create(model="fake-model", input="stream odds", top_logprobs=1, include=LOGPROBS, stream=True)
    )
    for event in events:
        EVENT_CLASSES[event.type].model_validate(event.to_dict())  # OpenAI's event models, every field
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert [[p.token for p in d.logprobs] for d in deltas] == [[d.delta] for d in deltas]
    (done,) = [e for e in events if e.type == "response.output_text.done"]
    assert [p.token for p in done.logprobs] == [d.delta for d in deltas]
    (part_done,) = [e for e in events if e.type == "response.content_part.done"]
    assert [p.token for p in part_done.part.logprobs] == [d.delta for d in deltas]
    final = events[-1].response
    assert [p.token for p in final.output[0].content[0].logprobs] == [d.delta for d in deltas]
    assert final.top_logprobs == 1


@pytest.mark.parametrize("stream", [False, True])
def test_service_tier_as_the_model_server_reports_it(client, stream):
    """OpenAI answers `auto` with the tier it used; so does the fake model server (`default`)."""
    if stream:
        events = list(client.responses.create(model="fake-model", input="tiered", service_tier="auto", stream=True))
        assert events[0].response.service_tier == "auto"  # before the model answers: as requested
        final = events[-1].response
    else:
        final = client.responses.create(model="fake-model", input="tiered", service_tier="auto")
    assert final.service_tier == "default"
    assert client.responses.retrieve(final.id).service_tier == "default"


@pytest.mark.parametrize("value", [-1, 21, "many"])
def test_top_logprobs_out_of_range_is_a_400(client, value):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", input="x", top_logprobs=value)
    assert caught.value.body["param"] == "top_logprobs"
