"""Run by test_llama_stack_client.py under Python >= 3.12 with llama-stack-client installed (it needs 3.12).

`python llama_stack_client_check.py URL CHECK`: runs one check (a function below) against the server at URL; exits
non-zero on any mismatch and prints "ok" when all held.
"""

import sys

import llama_stack_client
from llama_stack_client import LlamaStackClient
from llama_stack_client.types.response_object import ResponseObject
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


def _refused(error: type, call, *args, **kwargs) -> str:
    try:
        call(*args, **kwargs)
    except error as exc:
        return str(exc)
    raise AssertionError(f"{call.__qualname__}{args} must raise {error.__name__}")


def missing_objects() -> None:
    """llama-stack's Responses tests: a missing object's error says "not found"; a prompt's or version's is a
    400 (as llama-stack answers it), a stored response's a 404; an unknown previous response is OpenAI's 400."""
    for call in (client.responses.retrieve, client.responses.delete, client.responses.input_items.list):
        assert "not found" in _refused(llama_stack_client.NotFoundError, call, "resp_unknown")
    previous = _refused(
        llama_stack_client.BadRequestError,
        client.responses.create,
        model="fake-model",
        input="x",
        previous_response_id="resp_unknown",
    )
    assert "Previous response with id 'resp_unknown' not found." in previous, previous
    prompt_id = client.prompts.create(prompt="Say {{ word }}", variables=["word"]).prompt_id
    unknown = "pmpt_" + "0" * 48
    for prompt in ({"id": unknown}, {"id": prompt_id, "version": "99"}):
        message = _refused(
            llama_stack_client.BadRequestError,
            client.responses.create,
            model="fake-model",
            input="x",
            prompt={**prompt, "variables": {"word": "hi"}},
        )
        assert "not found" in message, message


def request_fields() -> None:
    """`top_logprobs`, `include` logprobs, `service_tier` and the identifiers, through llama-stack's client."""
    include = ["message.output_text.logprobs"]
    response = client.responses.create(
        model="fake-model",
        input="tell me odds",
        top_logprobs=2,
        include=include,
        service_tier="auto",
        safety_identifier="safety-7",
        prompt_cache_key="cache-7",
    )
    ResponseObject.model_validate(response.to_dict())
    assert (response.top_logprobs, response.service_tier) == (2, "default"), response
    assert (response.safety_identifier, response.prompt_cache_key) == ("safety-7", "cache-7"), response
    logprobs = response.output[0].content[0].logprobs
    assert "".join(p.token for p in logprobs) == "Hello! You said: tell me odds", logprobs
    assert [t.token for t in logprobs[0].top_logprobs] == ["Hello!", "Hello!~1"], logprobs
    events = _typed_events(model="fake-model", input="stream odds", top_logprobs=1, include=include)
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert [[p.token for p in d.logprobs] for d in deltas] == [[d.delta] for d in deltas], deltas


CHECKS = {
    "stream": stream,
    "input_items": input_items,
    "missing_objects": missing_objects,
    "request_fields": request_fields,
}

if __name__ == "__main__":
    CHECKS[sys.argv[2]]()
    print("ok")
