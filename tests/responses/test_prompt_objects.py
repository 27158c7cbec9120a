"""OpenAI prompt objects through the OpenAI SDK: `responses.create(prompt=...)` with the model, messages and
settings coming from the stored version, as code written for OpenAI's reusable prompts calls it."""

from __future__ import annotations

import base64
import json

import openai
import pytest

SUPPORT = [
    {"role": "system", "content": "You are a support agent for {{ company }}."},
    {"role": "user", "content": [{"type": "input_text", "text": "Customer {{ customer_name }} writes in."}]},
]
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def create(http, **body) -> str:
    response = http.post("/prompts", json=body)
    assert response.status_code == 200, response.text
    return response.json()["prompt_id"]


def echoed(response) -> dict:
    """What the model server was sent: the fake answers `#echo` with the request it received."""
    return json.loads(response.output_text)


@pytest.fixture
def support_prompt(http) -> str:
    return create(
        http,
        messages=SUPPORT,
        variables=["company", "customer_name"],
        model="fake-model",
        temperature=0.3,
        top_p=0.5,
        max_output_tokens=400,
        reasoning={"effort": "low"},
    )


def test_the_migration_call_has_no_model(client, support_prompt):
    response = client.responses.create(
        prompt={"prompt_id": support_prompt, "version": "1", "variables": {"company": "Acme", "customer_name": "Bo"}},
        input="#echo",
    )
    sent = echoed(response)
    assert sent["messages"] == [
        {"role": "system", "content": "You are a support agent for Acme."},
        {"role": "user", "content": "Customer Bo writes in."},
        {"role": "user", "content": "#echo"},
    ]
    assert sent["params"] == {
        "temperature": 0.3,
        "top_p": 0.5,
        "max_completion_tokens": 400,
        "reasoning_effort": "low",
    }
    assert response.model == "fake-model"
    assert (response.temperature, response.top_p, response.max_output_tokens) == (0.3, 0.5, 400)
    assert response.reasoning.effort == "low"
    assert response.prompt.id == support_prompt
    assert response.prompt.version == "1"
    # The rendered template is the response's `instructions`, as OpenAI reports a prompt object's messages.
    instructions = [(m.role, [part.text for part in m.content]) for m in response.instructions]
    assert instructions == [
        ("system", ["You are a support agent for Acme."]),
        ("user", ["Customer Bo writes in."]),
    ]
    stored = client.responses.retrieve(response.id)
    assert (stored.model, stored.temperature) == ("fake-model", 0.3)


def test_the_default_version_and_a_numeric_version(client, http, support_prompt):
    variables = {"company": "Acme", "customer_name": "Bo"}
    http.put(
        f"/prompts/{support_prompt}",
        json={
            "version": 1,
            "messages": [{"role": "developer", "content": "Terse, for {{ company }}."}],
            "variables": ["company", "customer_name"],
            "model": "alias-model",
        },
    ).raise_for_status()
    default = client.responses.create(prompt={"id": support_prompt, "variables": variables}, input="#echo")
    assert default.model == "alias-model"
    assert echoed(default)["messages"][0] == {"role": "system", "content": "Terse, for Acme."}
    assert echoed(default)["params"] == {}
    pinned = client.responses.create(prompt={"id": support_prompt, "version": 1, "variables": variables}, input="#echo")
    assert pinned.model == "fake-model"


def test_request_fields_override_the_prompt_settings(client, support_prompt):
    response = client.responses.create(
        model="alias-model",
        temperature=1.1,
        max_output_tokens=50,
        instructions="Answer in French.",
        prompt={"id": support_prompt, "variables": {"company": "Acme", "customer_name": "Bo"}},
        input="#echo",
    )
    sent = echoed(response)
    assert sent["params"] == {
        "temperature": 1.1,
        "top_p": 0.5,
        "max_completion_tokens": 50,
        "reasoning_effort": "low",
    }
    assert response.model == "alias-model"
    assert sent["messages"][2] == {"role": "system", "content": "Answer in French."}
    assert [m.role for m in response.instructions] == ["system", "user", "developer"]


def test_image_and_file_variables_stand_where_their_placeholders_are(client, http):
    prompt_id = create(
        http,
        messages=[
            {"role": "system", "content": "You read documents."},
            {"role": "user", "content": "Compare {{ photo }} with {{ notes }} #echo"},
        ],
        variables=["photo", "notes"],
        model="fake-model",
    )
    uploaded = client.files.create(file=("notes.txt", b"hello notes"), purpose="user_data")
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}
    response = client.responses.create(
        prompt={
            "id": prompt_id,
            "variables": {"photo": image, "notes": {"type": "input_file", "file_id": uploaded.id}},
        }
    )
    user = echoed(response)["messages"][1]
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Compare "},
            {"type": "image_url", "image_url": {"url": image["image_url"], "detail": "low"}},
            {"type": "text", "text": " with "},
            {
                "type": "file",
                "file": {
                    "file_data": "data:text/plain;base64," + base64.b64encode(b"hello notes").decode(),
                    "filename": "notes.txt",
                },
            },
            {"type": "text", "text": " #echo"},
        ],
    }
    # The response shows the file by id, not its bytes.
    shown = response.instructions[1].content
    assert [part.type for part in shown] == ["input_text", "input_image", "input_text", "input_file", "input_text"]
    assert shown[3].file_id == uploaded.id


def test_an_image_by_file_id(client, http):
    prompt_id = create(
        http,
        messages=[{"role": "user", "content": "What is in {{ photo }}? #echo"}],
        variables=["photo"],
        model="fake-model",
    )
    png = base64.b64decode("iVBORw0KGgo=")
    picture = client.files.create(file=("dot.png", png), purpose="vision")
    text = client.files.create(file=("dot.txt", b"not a picture"), purpose="vision")
    response = client.responses.create(
        prompt={"id": prompt_id, "variables": {"photo": {"type": "input_image", "file_id": picture.id}}}
    )
    part = echoed(response)["messages"][0]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            prompt={"id": prompt_id, "variables": {"photo": {"type": "input_image", "file_id": text.id}}}
        )
    assert caught.value.body["param"] == "prompt.variables.photo"
    assert "is not an image" in caught.value.message


def test_function_tools_from_the_prompt_round_trip(client, http):
    prompt_id = create(
        http,
        messages=[{"role": "system", "content": "You know the weather."}],
        model="fake-model",
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    )
    first = client.responses.create(prompt={"id": prompt_id}, input='Weather? #call:get_weather{"city": "Paris"}')
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", {"city": "Paris"})
    assert [tool.name for tool in first.tools] == ["get_weather"]
    second = client.responses.create(
        prompt={"id": prompt_id},
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}],
    )
    assert second.output_text == "The function returned: sunny, 21C"
    assert second.model == "fake-model"


def test_a_request_tool_choice_may_name_a_prompt_tool(client, http):
    prompt_id = create(http, messages=[{"role": "user", "content": "Go."}], model="fake-model", tools=[WEATHER_TOOL])
    response = client.responses.create(
        prompt={"id": prompt_id}, tool_choice={"type": "function", "name": "get_weather"}
    )
    assert response.output[0].type == "function_call"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id}, tool_choice={"type": "function", "name": "other"})
    assert caught.value.body["param"] == "tool_choice.name"


def test_streaming_without_a_model(client, support_prompt):
    variables = {"company": "Acme", "customer_name": "Bo"}
    events = list(
        client.responses.create(prompt={"id": support_prompt, "variables": variables}, input="hi", stream=True)
    )
    assert events[0].type == "response.created"
    assert events[0].response.model == "fake-model"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello! You said: hi"
    assert events[-1].response.temperature == 0.3


def test_streaming_with_the_stream_helper(client, support_prompt):
    # The SDK's helper insists on a model client-side; the prompt's other settings still apply.
    variables = {"company": "Acme", "customer_name": "Bo"}
    with client.responses.stream(
        model="alias-model", prompt={"id": support_prompt, "variables": variables}, input="hi there"
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert events[0].type == "response.created"
    assert final.output_text == "Hello! You said: hi there"
    assert (final.model, final.temperature, final.prompt.id) == ("alias-model", 0.3, support_prompt)


def test_a_chat_prompt_in_a_conversation(client, support_prompt):
    conversation = client.conversations.create()
    variables = {"company": "Acme", "customer_name": "Bo"}
    client.responses.create(
        prompt={"id": support_prompt, "variables": variables}, input="one", conversation=conversation.id
    )
    second = client.responses.create(
        prompt={"id": support_prompt, "variables": variables}, input="#echo", conversation=conversation.id
    )
    roles = [m["role"] for m in echoed(second)["messages"]]
    # The template comes first every turn; only the turns themselves are stored in the conversation.
    assert roles == ["system", "user", "user", "assistant", "user"]
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.role for item in items] == ["user", "assistant", "user", "assistant"]


def test_a_json_schema_text_format_from_the_prompt(client, http):
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    prompt_id = create(
        http,
        prompt="Answer in JSON.",
        model="fake-model",
        text={"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}},
    )
    response = client.responses.create(prompt={"id": prompt_id}, input="hello")
    assert response.text.format.type == "json_schema"
    assert set(json.loads(response.output_text)) == {"answer"}


# ------------------------------------------------------------------------------------------ errors
def test_without_a_model_anywhere_model_is_missing(client, http):
    prompt_id = create(http, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id})
    assert caught.value.body["param"] == "model"
    assert caught.value.body["code"] == "missing_required_parameter"
    assert prompt_id in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(input="hi")
    assert caught.value.body["message"] == "Missing required parameter: 'model'."


def test_a_prompt_whose_model_the_server_cannot_serve_is_a_404_naming_both(client, http):
    prompt_id = create(http, messages=[{"role": "user", "content": "Hi"}], model="gpt-5")
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(prompt={"id": prompt_id})
    assert "Model 'gpt-5' not found" in caught.value.message
    assert prompt_id in caught.value.message
    assert (caught.value.body["code"], caught.value.body["param"]) == ("model_not_found", "model")


def test_an_image_variable_in_a_system_message_is_refused(client, http):
    prompt_id = create(
        http, messages=[{"role": "system", "content": "See {{ photo }}"}], variables=["photo"], model="fake-model"
    )
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": prompt_id, "variables": {"photo": image}})
    assert caught.value.body["param"] == "prompt.variables.photo"
    assert "only stand in a user message" in caught.value.message


def test_a_missing_variable_of_a_chat_prompt_is_named(client, support_prompt):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": support_prompt, "variables": {"company": "Acme"}})
    assert caught.value.body["param"] == "prompt.variables.customer_name"


def test_a_label_as_the_version(client, http, support_prompt):
    variables = {"company": "Acme", "customer_name": "Bo"}
    http.put(
        f"/prompts/{support_prompt}",
        json={
            "version": 1,
            "messages": SUPPORT,
            "variables": ["company", "customer_name"],
            "model": "alias-model",
            "set_as_default": False,
        },
    ).raise_for_status()
    http.put(f"/prompts/{support_prompt}/labels/production", json={"version": 2}).raise_for_status()
    response = client.responses.create(
        prompt={"id": support_prompt, "version": "production", "variables": variables}, input="hi"
    )
    assert response.model == "alias-model"
    assert response.prompt.version == "production"
    assert response.prompt.to_dict()["resolved_version"] == "2"
    latest = client.responses.create(prompt={"id": support_prompt, "version": "latest", "variables": variables})
    assert latest.prompt.to_dict()["resolved_version"] == "2"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(prompt={"id": support_prompt, "version": "staging", "variables": variables})
    assert caught.value.body["param"] == "prompt.version"
    assert "label 'staging' not found" in caught.value.message
