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
        ({"version": "99"}, "prompt.version", "version 99 not found"),
        ({"version": "staging"}, "prompt.version", "label 'staging' not found"),
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


# ------------------------------------------------------------------------------------------ the wire rules
def refused(http, body: dict) -> dict:
    response = http.post("/responses", json={"model": "fake-model", "input": "hello", **body})
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_prompt_id_alias_and_shorthand_must_agree_with_the_id(http, prompt):
    other = "pmpt_" + "1" * 48
    inside = refused(http, {"prompt": {"id": prompt, "prompt_id": other}})
    assert inside["message"] == "Invalid value for 'prompt': 'id' and 'prompt_id' differ."
    assert inside["param"] == "prompt.id"
    assert inside["code"] is None
    outside = refused(http, {"prompt": {"prompt_id": prompt}, "prompt_id": other})
    assert outside["message"] == "Invalid value for 'prompt_id': it differs from 'prompt.id'."
    assert outside["param"] == "prompt_id"
    assert outside["code"] is None


def test_unknown_prompt_fields_are_named_in_order(http, prompt):
    error = refused(http, {"prompt": {"id": prompt, "zeta": 1, "beta": 2}})
    assert error["message"] == "Unknown parameter: 'prompt.beta'."
    assert error["param"] == "prompt.beta"
    assert error["code"] == "unknown_parameter"


@pytest.mark.parametrize("body", [{"prompt": {"version": "1"}}, {"prompt": {"id": ""}}, {"prompt_id": ""}])
def test_a_prompt_without_an_id_is_a_missing_parameter(http, body):
    error = refused(http, body)
    assert error["message"] == "Missing required parameter: 'prompt.id'."
    assert error["param"] == "prompt.id"
    assert error["code"] == "missing_required_parameter"


@pytest.mark.parametrize(
    ("version", "shown"), [("Two!", "'Two!'"), (0, "0"), (True, "True"), (1.5, "1.5"), ("", "''"), ("-x", "'-x'")]
)
def test_bad_version_numbers(http, prompt, version, shown):
    error = refused(http, {"prompt": {"id": prompt, "version": version}})
    assert error["message"] == (
        f"Invalid value for 'prompt.version': {shown}; expected a version number such as \"1\" or a label such as "
        '"production".'
    )
    assert error["param"] == "prompt.version"
    assert error["code"] is None


def test_a_prompt_that_is_not_an_object(http):
    error = refused(http, {"prompt": "pmpt_x"})
    assert error["message"] == "Invalid value for 'prompt': Input should be a valid dictionary."
    assert error["param"] == "prompt"
    assert error["code"] == "invalid_value"


def test_variables_must_be_an_object_of_strings_or_input_parts(http, prompt):
    not_object = refused(http, {"prompt": {"id": prompt, "variables": "role=x"}})
    assert not_object["message"] == "Invalid value for 'prompt.variables': expected an object."
    assert not_object["param"] == "prompt.variables"
    assert not_object["code"] is None
    for value in (5, None, {"type": "input_text"}, {"type": "input_text", "text": 7}, {"type": "output_text"}):
        error = refused(http, {"prompt": {"id": prompt, "variables": {"role": value, "language": "x"}}})
        assert error["message"] == (
            "Invalid value for 'prompt.variables.role': expected a string or an input_text, input_image or "
            "input_file object."
        )
        assert error["param"] == "prompt.variables.role"
        assert error["code"] is None


def test_variable_problems_carry_their_codes(http, prompt):
    unknown = refused(http, {"prompt": {"id": prompt, "variables": {"role": "x", "language": "y", "mood": "z"}}})
    assert unknown["message"] == (
        f"Invalid value for 'prompt.variables': 'mood' is not a variable of prompt '{prompt}' version 2 "
        "(declared: role, language)."
    )
    assert unknown["code"] == "unknown_variable"
    missing = refused(http, {"prompt": {"id": prompt, "version": 1}})
    assert missing["message"] == (
        f"Missing value for prompt variables 'role', 'language' of prompt '{prompt}' version 1."
    )
    assert missing["code"] == "missing_variable"
    one = refused(http, {"prompt": {"id": prompt, "variables": {"language": "y"}}})
    assert one["message"] == f"Missing value for prompt variable 'role' of prompt '{prompt}' version 2."


def test_missing_prompts_are_prompt_not_found(http, prompt):
    missing = refused(http, {"prompt": {"id": "pmpt_" + "0" * 48}})
    assert missing["message"] == f"Prompt '{'pmpt_' + '0' * 48}' not found."
    assert missing["param"] == "prompt.id"
    assert missing["code"] == "prompt_not_found"
    malformed = refused(http, {"prompt_id": "not-a-prompt-id"})
    assert malformed["message"].startswith("Invalid value for 'prompt_id': 'not-a-prompt-id'. Prompt ids are 'pmpt_'")
    assert malformed["param"] == "prompt.id"
    assert malformed["code"] == "prompt_not_found"
    version = refused(http, {"prompt": {"id": prompt, "version": "7"}})
    assert version["message"] == f"Prompt '{prompt}' version 7 not found."
    assert version["param"] == "prompt.version"
    assert version["code"] == "prompt_not_found"


def test_image_and_file_variables_follow_the_prompt_as_a_user_message(client, http):
    template = {"prompt": "Describe {{ photo }} and {{ doc }}.", "variables": ["photo", "doc"]}
    created = http.post("/prompts", json=template)
    prompt_id = created.json()["prompt_id"]
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}
    document = {"type": "input_file", "file_data": "data:text/plain;base64,aGk=", "filename": "hi.txt"}
    response = client.responses.create(
        model="fake-model",
        input="#echo",
        prompt={"id": prompt_id, "version": 1, "variables": {"photo": image, "doc": document}},
    )
    assert sent(response) == [
        {"role": "system", "content": "Describe [Image: photo] and [File: doc]."},
        {"role": "user", "content": "#echo"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image["image_url"], "detail": "low"}},
                {"type": "file", "file": {"file_data": document["file_data"], "filename": "hi.txt"}},
            ],
        },
    ]
    echoed = http.get(f"/responses/{response.id}").json()["prompt"]
    assert echoed == {"id": prompt_id, "version": "1", "variables": {"photo": image, "doc": document}}


def test_media_variables_naming_files_that_cannot_be_read_are_refused(http):
    created = http.post("/prompts", json={"prompt": "Look at {{ photo }}", "variables": ["photo"]})
    prompt_id = created.json()["prompt_id"]
    malformed = refused(
        http, {"prompt": {"id": prompt_id, "variables": {"photo": {"type": "input_image", "file_id": "file-abc"}}}}
    )
    assert malformed["message"] == (
        "Invalid value for 'prompt.variables.photo': file-abc. File ids are 'file-' followed by 32 lowercase hex "
        "characters."
    )
    assert malformed["param"] == "prompt.variables.photo"
    unknown = "file-" + "0" * 32
    missing = refused(
        http, {"prompt": {"id": prompt_id, "variables": {"photo": {"type": "input_image", "file_id": unknown}}}}
    )
    assert missing["message"].startswith(f"Invalid value for 'prompt.variables.photo': File '{unknown}' not found.")
    assert missing["param"] == "prompt.variables.photo"
    by_url = {"type": "input_file", "file_url": "https://example.com/x.pdf"}
    error = refused(http, {"prompt": {"id": prompt_id, "variables": {"photo": by_url}}})
    assert error["message"] == (
        "Invalid value for 'prompt.variables.photo': only files given inline by 'file_data' are supported."
    )
    assert error["code"] == "invalid_value"


def test_a_prompt_needs_no_input_and_empty_variables_mean_none(http):
    prompt_id = http.post("/prompts", json={"prompt": "Say hi."}).json()["prompt_id"]
    for variables in ({}, [], None):
        response = http.post(
            "/responses", json={"model": "fake-model", "prompt": {"id": prompt_id, "variables": variables}}
        )
        assert response.status_code == 200, response.text
        assert response.json()["prompt"] == {"id": prompt_id, "version": "1", "variables": None}
