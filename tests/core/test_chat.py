"""A streamed chat completion assembled into the `chat.completion` its chunks add up to."""

from __future__ import annotations

from apps.core.chat import CompletionAccumulator


def chunk(delta: dict, finish_reason: str | None = None, **fields) -> dict:
    return {
        "id": "chatcmpl-1",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **fields,
    }


def assembled(*chunks: dict) -> dict:
    accumulator = CompletionAccumulator()
    for each in chunks:
        accumulator.add(each)
    return accumulator.completion()


def test_text_and_refusal_fragments_join():
    completion = assembled(
        chunk({"role": "assistant", "content": "Hel"}),
        chunk({"content": "lo", "refusal": "no"}),
        chunk({"refusal": "pe"}, "stop"),
        {"id": "chatcmpl-1", "choices": [], "usage": {"total_tokens": 3}},
    )
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "Hello", "refusal": "nope"}
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"] == {"total_tokens": 3}
    assert completion["created"] == 7


def test_a_tool_call_in_pieces_becomes_one_call():
    completion = assembled(
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "look"}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "fi", "arguments": '{"q"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "nd", "arguments": ': "x"}'}}]}, "tool_calls"),
    )
    message = completion["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "find", "arguments": '{"q": "x"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "look", "arguments": ""}},
    ]


def test_a_call_without_an_id_keeps_none_and_malformed_pieces_are_skipped():
    completion = assembled(chunk({"tool_calls": ["junk", {"index": 0, "function": {"arguments": "{}"}}]}))
    assert completion["choices"][0]["message"]["tool_calls"] == [
        {"id": None, "type": "function", "function": {"name": "", "arguments": "{}"}}
    ]


def test_logprobs_accumulate_per_choice():
    first = {"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"token": "a"}]}}
    second = {"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [{"token": "b"}]}}
    completion = assembled({"choices": [first]}, {"choices": [second]})
    assert completion["choices"][0]["logprobs"] == {"content": [{"token": "a"}, {"token": "b"}]}
