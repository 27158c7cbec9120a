"""Stored chat completions that name a prompt in their metadata count in its usage: through the OpenAI SDK
against a live server (recorded fake upstream), every figure against the values the SDK returned; refusals of a
prompt the caller may not use; updates and deletes move the figures."""

from __future__ import annotations

import httpx
import openai
import pytest

from apps.core.errors import BadRequestError
from apps.core.principal import Principal
from apps.inference.services import prompt_use
from apps.prompts import services as prompts
from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.postgres import postgres_database, run_config


def ask(client, text: str, **kwargs):
    return client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": text}], **kwargs)


def two_versions(http) -> str:
    """Version 1 (labelled `production`) and version 2 (the default)."""
    created = http.post("/prompts", json={"prompt": "Chat usage {{ n }}.", "variables": ["n"]}).json()
    prompt_id = created["prompt_id"]
    http.put(f"/prompts/{prompt_id}", json={"prompt": "Chat usage v2 {{ n }}.", "variables": ["n"], "version": 1})
    http.put(f"/prompts/{prompt_id}/labels/production", json={"version": 1})
    return prompt_id


@pytest.fixture
def prompt_id(http):
    return two_versions(http)


def usage(http, prompt_id: str) -> dict[int, dict]:
    body = http.get(f"/prompts/{prompt_id}/usage").json()
    return {v["version"]: v for v in body["versions"]} | {"series": body["series"]}


def test_chat_completions_naming_a_prompt_count_with_its_responses(client, http, prompt_id):
    one = ask(client, "chat usage one", metadata={"prompt_id": prompt_id, "prompt_version": "1"})
    labelled = ask(client, "chat usage by label two", metadata={"prompt_id": prompt_id, "prompt_version": "production"})
    cut = ask(client, "chat usage cut short here please", max_tokens=2, metadata={"prompt_id": prompt_id})
    streamed = list(
        ask(
            client,
            "chat usage streamed",
            stream=True,
            stream_options={"include_usage": True},
            metadata={"prompt_id": prompt_id},
        )
    )
    response = client.responses.create(
        model="fake-model", prompt={"id": prompt_id, "version": "1", "variables": {"n": "1"}}, input="with a response"
    )
    ask(client, "chat usage not stored", store=False, metadata={"prompt_id": prompt_id})
    ask(client, "chat usage without a prompt")

    figures = usage(http, prompt_id)
    v1, v2 = figures[1], figures[2]
    assert (v1["requests"], v1["chat_completions"]) == (3, 2)
    assert v1["input_tokens"] == one.usage.prompt_tokens + labelled.usage.prompt_tokens + response.usage.input_tokens
    assert v1["output_tokens"] == (
        one.usage.completion_tokens + labelled.usage.completion_tokens + response.usage.output_tokens
    )
    inputs = sorted([one.usage.prompt_tokens, labelled.usage.prompt_tokens, response.usage.input_tokens])
    assert response.usage.input_tokens != inputs[1]  # the median is a chat completion's
    assert v1["input_tokens_p50"] == inputs[1]  # nearest rank: the 2nd of 3, responses and completions together
    assert v1["labels"] == ["production"]
    assert (v1["errors"], v1["incomplete"]) == (0, 0)
    assert v1["last_used_at"] >= one.created

    assert (v2["requests"], v2["chat_completions"]) == (2, 2)
    assert v2["incomplete"] == 1  # cut at max_tokens
    assert cut.choices[0].finish_reason == "length"
    assert v2["output_tokens"] == cut.usage.completion_tokens + streamed[-1].usage.completion_tokens
    assert v2["first_token_ms_p50"] is not None  # the stream's
    assert v2["first_token_ms_p50"] == v2["first_token_ms_p95"]  # the only one with a first token
    assert v2["labels"] == ["default"]
    assert sum(point["requests"] for point in figures["series"]) == 5


def test_updating_or_deleting_a_completion_moves_its_use(client, http, prompt_id):
    first = ask(client, "chat usage moved", metadata={"prompt_id": prompt_id, "prompt_version": "1"})
    second = ask(client, "chat usage deleted", metadata={"prompt_id": prompt_id, "prompt_version": "1"})
    assert usage(http, prompt_id)[1]["chat_completions"] == 2
    client.chat.completions.update(first.id, metadata={"prompt_id": prompt_id, "prompt_version": "2"})
    client.chat.completions.delete(second.id)
    figures = usage(http, prompt_id)
    assert 1 not in figures
    assert (figures[2]["requests"], figures[2]["chat_completions"]) == (1, 1)
    client.chat.completions.update(first.id, metadata={"topic": "no prompt any more"})
    assert usage(http, prompt_id).keys() == {"series"}


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({"prompt_id": "pmpt_" + "0" * 48}, "metadata.prompt_id"),
        ({"prompt_id": "not-a-prompt"}, "metadata.prompt_id"),
        ({"prompt_id": "{prompt_id}", "prompt_version": "9"}, "metadata.prompt_version"),
        ({"prompt_id": "{prompt_id}", "prompt_version": "no-such-label"}, "metadata.prompt_version"),
    ],
)
def test_a_prompt_that_cannot_be_used_is_a_400_and_nothing_is_stored(client, http, prompt_id, metadata, param):
    metadata = {key: value.format(prompt_id=prompt_id) for key, value in metadata.items()}
    before = len(client.chat.completions.list(limit=100).data)
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "chat usage refused", metadata=metadata)
    assert caught.value.body["param"] == param
    assert len(client.chat.completions.list(limit=100).data) == before


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_someone_elses_prompt_is_refused(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    prompt = prompts.prompt_create(text="Alice's {{ q }}", variables=["q"], principal=Principal("alice"))
    used = prompt_use(metadata={"prompt_id": prompt.prompt_id}, principal=Principal("alice"))
    assert (used["prompt_version"], used["prompt_labels"]) == (1, "|default|")
    with pytest.raises(BadRequestError) as caught:
        prompt_use(metadata={"prompt_id": prompt.prompt_id}, principal=Principal("bob"))
    assert (caught.value.param, caught.value.code) == ("metadata.prompt_id", "prompt_not_found")


@pytest.mark.postgres
def test_responses_and_chat_completions_are_ranked_together_on_postgresql(tmp_path, upstream):
    with postgres_database() as database:
        storage = run_config(database, stores=("inference", "responses"))
        server = start_inference_server(tmp_path, recordings("responses"), provider_yaml(upstream.url, storage=storage))
        try:
            client = sdk(server)
            with httpx.Client(base_url=server.url + "/v1", timeout=30) as http:
                prompt_id = two_versions(http)
                one = ask(client, "chat usage one", metadata={"prompt_id": prompt_id, "prompt_version": "1"})
                labelled = ask(
                    client, "chat usage by label two", metadata={"prompt_id": prompt_id, "prompt_version": "production"}
                )
                response = client.responses.create(
                    model="fake-model",
                    prompt={"id": prompt_id, "version": "1", "variables": {"n": "1"}},
                    input="with a response",
                )
                v1 = usage(http, prompt_id)[1]
        finally:
            server.stop()
    assert (v1["requests"], v1["chat_completions"]) == (3, 2)
    inputs = sorted([one.usage.prompt_tokens, labelled.usage.prompt_tokens, response.usage.input_tokens])
    assert v1["input_tokens"] == sum(inputs)
    assert response.usage.input_tokens != inputs[1]  # the median is a chat completion's: ranked together
    assert v1["input_tokens_p50"] == inputs[1]
    assert v1["labels"] == ["production"]
