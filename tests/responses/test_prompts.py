"""`responses.create(prompt=...)`: stored prompts with variables, pinned and default versions, and their errors."""

from __future__ import annotations

import json

import openai
import pytest

TEMPLATE_V1 = "You are a {{ role }} who answers in {{ language }}."
TEMPLATE_V2 = "You are a very patient {{ role }}. Always answer in {{ language }}."


@pytest.fixture
def prompt(http) -> str:
    """A prompt with two variables and two versions; version 2 is the default."""
    created = http.post("/prompts", json={"prompt": TEMPLATE_V1, "variables": ["role", "language"]}).json()
    prompt_id = created["prompt_id"]
    updated = http.put(
        f"/prompts/{prompt_id}", json={"prompt": TEMPLATE_V2, "version": 1, "variables": ["role", "language"]}
    )
    assert updated.json()["version"] == 2
    return prompt_id


def sent(response) -> list[dict]:
    return json.loads(response.output_text)["messages"]


def test_default_version_with_plain_string_variables(client, prompt):
    response = client.responses.create(
        model="fake-model",
        prompt={"id": prompt, "variables": {"role": "librarian", "language": "Dutch"}},
        instructions="Keep it short.",
        input="#echo",
    )
    assert sent(response) == [
        {"role": "system", "content": "You are a very patient librarian. Always answer in Dutch."},
        {"role": "system", "content": "Keep it short."},
        {"role": "user", "content": "#echo"},
    ]
    assert response.prompt.id == prompt
    assert response.prompt.version == "2"
    assert response.prompt.variables == {"role": "librarian", "language": "Dutch"}
    assert client.responses.retrieve(response.id).prompt.version == "2"


def test_pinned_version_with_input_text_variables(client, prompt):
    variables = {"role": {"type": "input_text", "text": "pirate"}, "language": "English"}
    response = client.responses.create(
        model="fake-model", prompt={"id": prompt, "version": "1", "variables": variables}, input="#echo"
    )
    assert sent(response)[0] == {"role": "system", "content": "You are a pirate who answers in English."}
    assert response.prompt.version == "1"
    assert response.prompt.variables["role"].text == "pirate"


def test_prompt_id_shorthand_and_prompt_id_field(client, http):
    prompt_id = http.post("/prompts", json={"prompt": "Say hi."}).json()["prompt_id"]
    via_shorthand = client.responses.create(model="fake-model", input="#echo", extra_body={"prompt_id": prompt_id})
    assert sent(via_shorthand)[0] == {"role": "system", "content": "Say hi."}
    via_field = client.responses.create(model="fake-model", input="#echo", prompt={"prompt_id": prompt_id})
    assert via_field.prompt.id == prompt_id


def test_streaming_events_carry_the_prompt(client, prompt):
    variables = {"role": "guide", "language": "Greek"}
    with client.responses.stream(
        model="fake-model", prompt={"id": prompt, "variables": variables}, input="hi"
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert events[0].type == "response.created"
    assert events[0].response.prompt.id == prompt
    assert final.prompt.version == "2"
    assert final.output_text == "Hello! You said: hi"


@pytest.mark.parametrize(
    ("prompt_arg", "param", "needle"),
    [
        ({"id": "pmpt_" + "0" * 48}, "prompt.id", "not found"),
        ({"id": "not-a-prompt-id"}, "prompt.id", "not-a-prompt-id"),
        ({"version": "99"}, "prompt.version", "no version 99"),
        ({"version": "two"}, "prompt.version", "'two'"),
        (
            {"variables": {"role": "x", "language": "y", "mood": "z"}},
            "prompt.variables.mood",
            "'mood' is not a variable",
        ),
        ({"variables": {"role": "x"}}, "prompt.variables.language", "'language'"),
        ({}, "prompt.variables.role", "'role', 'language'"),
    ],
)
def test_prompt_problems_are_400s_that_name_them(client, prompt, prompt_arg, param, needle):
    argument = {"id": prompt, **prompt_arg}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", prompt=argument, input="hello")
    assert caught.value.body["param"] == param
    assert needle in caught.value.message


def test_prompt_is_not_carried_into_a_follow_up(client, prompt):
    variables = {"role": "chef", "language": "Italian"}
    first = client.responses.create(model="fake-model", prompt={"id": prompt, "variables": variables}, input="first")
    follow_up = client.responses.create(model="fake-model", previous_response_id=first.id, input="#echo")
    assert [m["role"] for m in sent(follow_up)] == ["user", "assistant", "user"]
