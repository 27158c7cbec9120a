"""Run by test_llama_stack_client.py under Python >= 3.12 with llama-stack-client installed (it needs 3.12).

`python llama_stack_client_check.py URL CHECK`: runs one check (a function below) against the server at URL; exits
non-zero on any mismatch and prints "ok" when all held.
"""

import sys

from llama_stack_client import LlamaStackClient
from llama_stack_client.types.response_object_stream import ResponseObjectStream
from pydantic import BaseModel, TypeAdapter

client = LlamaStackClient(base_url=sys.argv[1], max_retries=0)

TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
WITH_RESPONSE_ID = {
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
}
STREAM_EVENTS = TypeAdapter(ResponseObjectStream)


def _typed_events(**create) -> list:
    """A stream's events, each checked against llama-stack's own event model (validated, not just constructed)."""
    events = list(client.responses.create(stream=True, **create))
    response_id = events[-1].response.id
    for event in events:
        assert isinstance(event, BaseModel), event
        validated = STREAM_EVENTS.validate_python(event.to_dict())
        assert type(validated) is type(event), (type(validated), type(event))
        if event.type in WITH_RESPONSE_ID:
            assert event.response_id == response_id, event
    return events


def stream() -> None:
    text = _typed_events(model="fake-model", input="stream please")
    kinds = [e.type for e in text]
    assert kinds[-1] == "response.completed", kinds
    assert WITH_RESPONSE_ID <= set(kinds), kinds
    assert "".join(e.delta for e in text if e.type == "response.output_text.delta") == "Hello! You said: stream please"
    call = _typed_events(
        model="fake-model", input='What is the weather? #call:get_weather{"city": "Paris"}', tools=TOOLS
    )
    done = [e for e in call if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == ['{"city": "Paris"}'], done
    assert {"response.output_item.added", "response.output_item.done"} <= {e.type for e in call}


def input_items() -> None:
    """A chain's input items: the earlier turns' inputs and outputs, then the request's own input."""
    first = client.responses.create(model="fake-model", input="Call me Grace.")
    second = client.responses.create(model="fake-model", previous_response_id=first.id, input="Who am I?")
    listed = client.responses.input_items.list(second.id, order="asc")
    texts = [(item.role, item.content[0].text) for item in listed.data]
    assert texts == [
        ("user", "Call me Grace."),
        ("assistant", "Hello! You said: Call me Grace."),
        ("user", "Who am I?"),
    ], texts
    assert listed.data[1].id == first.output[0].id, listed
    newest = client.responses.input_items.list(second.id, limit=1)
    assert [item.content[0].text for item in newest.data] == ["Who am I?"], newest


CHECKS = {"stream": stream, "input_items": input_items}

if __name__ == "__main__":
    CHECKS[sys.argv[2]]()
    print("ok")
