"""Function calls over two turns, `previous_response_id`, and `conversation`, through the OpenAI SDK."""

from __future__ import annotations

import json

import openai
import pytest

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}},
]


def sent(response) -> list[dict]:
    return json.loads(response.output_text)["messages"]


def test_function_call_round_trip_over_two_turns(client):
    first = client.responses.create(
        model="fake-model", input='Weather in Paris? #call:get_weather{"city": "Paris"}', tools=TOOLS
    )
    assert first.status == "completed"
    (call,) = first.output
    assert (call.type, call.name, call.arguments, call.status) == (
        "function_call",
        "get_weather",
        '{"city": "Paris"}',
        "completed",
    )
    assert call.id.startswith("fc_")
    assert call.call_id.startswith("call_")
    assert first.tools[0].name == "get_weather"
    assert first.tools[0].strict is True

    second = client.responses.create(
        model="fake-model",
        previous_response_id=first.id,
        tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temperature": 21}'}],
    )
    assert second.output_text == 'The function returned: {"temperature": 21}'
    assert second.previous_response_id == first.id
    # Everything the model received: the first response's input and output, then this request's own input.
    listed = client.responses.input_items.list(second.id, order="asc").data
    assert [i.type for i in listed] == ["message", "function_call", "function_call_output"]
    assert listed[1].id == call.id
    assert listed[2].call_id == call.call_id

    third = client.responses.create(model="fake-model", previous_response_id=second.id, input="#echo")
    assert sent(third) == [
        {"role": "user", "content": 'Weather in Paris? #call:get_weather{"city": "Paris"}'},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.call_id, "content": '{"temperature": 21}'},
        {"role": "assistant", "content": 'The function returned: {"temperature": 21}'},
        {"role": "user", "content": "#echo"},
    ]


def test_parallel_calls_and_the_parallel_flag(client):
    cue = '#call:get_weather{"city": "Rome"} #call:get_time'
    both = client.responses.create(model="fake-model", input=cue, tools=TOOLS)
    assert [o.name for o in both.output] == ["get_weather", "get_time"]
    outputs = [{"type": "function_call_output", "call_id": o.call_id, "output": o.name} for o in both.output]
    answered = client.responses.create(model="fake-model", previous_response_id=both.id, input=outputs, tools=TOOLS)
    assert answered.output_text == "The function returned: get_weather | get_time"
    one = client.responses.create(model="fake-model", input=cue, tools=TOOLS, parallel_tool_calls=False)
    assert [o.name for o in one.output] == ["get_weather"]
    assert one.parallel_tool_calls is False


def test_tool_choice_is_forwarded(client):
    forced = client.responses.create(
        model="fake-model", input="no cue here", tools=TOOLS, tool_choice={"type": "function", "name": "get_time"}
    )
    assert forced.output[0].name == "get_time"
    assert forced.tool_choice.name == "get_time"
    none = client.responses.create(model="fake-model", input="#call:get_time", tools=TOOLS, tool_choice="none")
    assert none.output[0].type == "message"
    allowed = client.responses.create(
        model="fake-model",
        input="#echo",
        tools=TOOLS,
        tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_time"}]},
    )
    params = json.loads(allowed.output_text)["params"]
    assert [t["function"]["name"] for t in params["tools"]] == ["get_time"]
    assert params["tool_choice"] == "auto"


def test_unanswered_function_call_is_a_400(client):
    first = client.responses.create(model="fake-model", input="#call:get_time", tools=TOOLS)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake-model", previous_response_id=first.id, input="never mind")
    assert caught.value.code == "function_call_output_missing"
    assert first.output[0].call_id in caught.value.message
    with pytest.raises(openai.BadRequestError) as wrong:
        client.responses.create(
            model="fake-model",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": "call_other", "output": "x"}],
        )
    assert wrong.value.code == "function_call_not_found"
    assert "call_other" in wrong.value.message


def test_function_call_items_given_inline(client):
    response = client.responses.create(
        model="fake-model",
        input=[
            {"role": "user", "content": "what time is it?"},
            {"type": "function_call", "call_id": "call_inline", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_inline", "output": "noon"},
        ],
        tools=TOOLS,
    )
    assert response.output_text == "The function returned: noon"


def test_multi_turn_with_previous_response_id(client):
    first = client.responses.create(model="fake-model", input="My name is Ada.", instructions="Be kind.")
    second = client.responses.create(model="fake-model", previous_response_id=first.id, input="What is my name?")
    third = client.responses.create(model="fake-model", previous_response_id=second.id, input="#echo")
    assert [m["content"] for m in sent(third)] == [
        "My name is Ada.",
        "Hello! You said: My name is Ada.",
        "What is my name?",
        "Hello! You said: What is my name?",
        "#echo",
    ]
    assert third.previous_response_id == second.id
    # The whole chain, oldest first with `order=asc` (newest first by default), each item once, with its id.
    chain = client.responses.input_items.list(third.id, order="asc").data
    assert [(i.role, i.content[0].text) for i in chain] == [
        ("user", "My name is Ada."),
        ("assistant", "Hello! You said: My name is Ada."),
        ("user", "What is my name?"),
        ("assistant", "Hello! You said: What is my name?"),
        ("user", "#echo"),
    ]
    assert [chain[1].id, chain[3].id] == [first.output[0].id, second.output[0].id]
    newest = client.responses.input_items.list(third.id, limit=2)
    assert [i.id for i in newest.data] == [chain[4].id, chain[3].id]
    assert newest.has_more
    rest = client.responses.input_items.list(third.id, after=newest.last_id)
    assert [i.id for i in rest.data] == [chain[2].id, chain[1].id, chain[0].id]


def test_conversation_history_and_new_items(client):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "I like green."}])
    first = client.responses.create(model="fake-model", conversation=conversation.id, input="Remember that.")
    assert first.conversation.id == conversation.id
    second = client.responses.create(model="fake-model", conversation={"id": conversation.id}, input="#echo")
    assert [m["content"] for m in sent(second)] == [
        "I like green.",
        "Remember that.",
        "Hello! You said: Remember that.",
        "#echo",
    ]
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [(i.type, i.role) for i in items] == [("message", "user")] + [
        ("message", "user"),
        ("message", "assistant"),
    ] * 2
    assert items[2].id == first.output[0].id
    assert items[2].content[0].text == "Hello! You said: Remember that."
    # The second response's input items: the conversation's items before its turn, then its own input.
    listed = client.responses.input_items.list(second.id, order="asc").data
    assert [(i.id, i.type, i.role) for i in listed] == [(i.id, i.type, i.role) for i in items[:4]]
    assert listed[3].content[0].text == "#echo"


def test_conversation_with_store_false_adds_nothing(client):
    conversation = client.conversations.create()
    client.responses.create(model="fake-model", conversation=conversation.id, input="off the record", store=False)
    assert client.conversations.items.list(conversation.id).data == []


def test_conversation_tool_round_trip(client):
    conversation = client.conversations.create()
    first = client.responses.create(
        model="fake-model", conversation=conversation.id, input="#call:get_time", tools=TOOLS
    )
    call = first.output[0]
    second = client.responses.create(
        model="fake-model",
        conversation=conversation.id,
        tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "teatime"}],
    )
    assert second.output_text == "The function returned: teatime"
    types = [i.type for i in client.conversations.items.list(conversation.id, order="asc").data]
    assert types == ["message", "function_call", "function_call_output", "message"]


def test_conversation_errors(client):
    conversation = client.conversations.create()
    first = client.responses.create(model="fake-model", input="hi")
    with pytest.raises(openai.BadRequestError) as both:
        client.responses.create(
            model="fake-model", input="x", previous_response_id=first.id, conversation=conversation.id
        )
    assert "previous_response_id" in both.value.message
    assert "conversation" in both.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="fake-model", input="x", conversation="conv_" + "0" * 48)
