"""The response object and its stream events, built from a chat completion whole or chunk by chunk.

The fake model server never refuses and always names its tool calls, so those paths are exercised here directly."""

from __future__ import annotations

from apps.core.errors import RateLimitError
from apps.responses.builder import ResponseBuilder


def builder() -> ResponseBuilder:
    return ResponseBuilder(response_id="resp_1", created_at=1, echo={"model": "m"})


def delta(**fields) -> dict:
    return {"choices": [{"index": 0, "delta": fields}]}


def streamed(*chunks: dict) -> tuple[ResponseBuilder, list[dict]]:
    made = builder()
    events = made.start()
    for chunk in chunks:
        events += made.on_chunk(chunk)
    events += made.finish()
    return made, events


def test_a_refusal_after_text_is_the_message_s_second_part():
    _, events = streamed(delta(content="I"), delta(refusal="can't"))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.content_part.added",
        "response.refusal.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert [e["sequence_number"] for e in events] == list(range(12))
    assert [e.get("content_index") for e in events[3:11]] == [0, 0, 1, 1, 0, 0, 1, 1]
    assert events[-1]["item"]["content"][1] == {"type": "refusal", "refusal": "can't"}


def test_a_refusal_alone_opens_a_message_with_empty_text():
    made, _ = streamed(delta(refusal="no"))
    assert made.output[0]["content"] == [
        {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        {"type": "refusal", "refusal": "no"},
    ]


def test_a_streamed_call_without_an_id_is_resumed_with_the_id_the_client_was_given():
    call = {"index": 0, "type": "function", "function": {"name": "find", "arguments": "{}"}}
    made, events = streamed(delta(tool_calls=[call]))
    given = made.output[0]["call_id"]
    assert given.startswith("call_")
    assert made.assistant_message()["tool_calls"][0]["id"] == given
    assert events[-1]["item"]["status"] == "completed"


def test_a_broken_stream_reports_what_was_made_so_far():
    made = builder()
    made.on_chunk(delta(content="half"))
    response, event = made.failed(RateLimitError("slow down"))
    assert event["type"] == "response.failed"
    assert response["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    assert response["output"][0]["status"] == "incomplete"
    assert response["output"][0]["content"][0]["text"] == "half"


def test_a_whole_completion_gives_its_message_then_its_calls():
    made = builder()
    made.from_completion(
        {
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {
                        "role": "assistant",
                        "content": "Let me look.",
                        "refusal": "partly",
                        "tool_calls": [{"type": "function", "function": {"name": "find", "arguments": "{}"}}],
                    },
                }
            ],
            "usage": {"prompt_tokens": 2, "completion_tokens": 3},
        }
    )
    response = made.response(made.final_status())
    assert [item["type"] for item in response["output"]] == ["message", "function_call"]
    assert response["output"][0]["content"][1] == {"type": "refusal", "refusal": "partly"}
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["usage"]["total_tokens"] == 5
    assistant = made.assistant_message()
    assert assistant["content"] == "Let me look."
    assert assistant["refusal"] == "partly"
    assert assistant["tool_calls"][0]["id"] == response["output"][1]["call_id"]


def test_a_whole_completion_with_only_calls_resumes_with_no_content():
    made = builder()
    call = {"id": "call_1", "type": "function", "function": {"name": "find", "arguments": "{}"}}
    made.from_completion(
        {"choices": [{"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}]}
    )
    assert made.assistant_message() == {"role": "assistant", "content": None, "tool_calls": [call]}
    assert made.final_status() == "completed"
