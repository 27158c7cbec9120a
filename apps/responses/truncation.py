"""`truncation: "auto"`: the oldest turns of a history are dropped until a request fits the model's context window.

The window is the registered model's `metadata.context_length` (llama-stack's name); a model without one is sent
everything, as with `truncation: "disabled"`. No tokenizer fits every model a provider may serve, so tokens are
estimated from the messages' JSON size at `CHARS_PER_TOKEN` characters a token (a common rule of thumb for English
text and code), with room kept for `max_output_tokens`. A turn starts at a user message and keeps the assistant's
answers and tool messages that follow it, so a tool call is never separated from its output. The system messages
(prompt, instructions) and this request's input are always sent, and so is a last turn whose tool calls this
request answers; what is dropped is only left out of what the model is sent, never out of what is stored.
"""

from __future__ import annotations

import json

CHARS_PER_TOKEN = 4


def estimated_tokens(messages: list[dict]) -> int:
    size = sum(len(json.dumps(m, ensure_ascii=False, separators=(",", ":"))) for m in messages)
    return -(-size // CHARS_PER_TOKEN)


def _turns(history: list[dict]) -> list[list[dict]]:
    turns: list[list[dict]] = []
    for message in history:
        if message.get("role") == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def truncated_history(history: list[dict], *, fixed_tokens: int, window: int) -> list[dict]:
    """`history` without as many of its oldest turns as it takes for it and `fixed_tokens` to fit `window`."""
    turns = _turns(history)
    sizes = [estimated_tokens(turn) for turn in turns]
    droppable = len(turns) - (1 if history and history[-1].get("tool_calls") else 0)
    total, start = fixed_tokens + sum(sizes), 0
    while total > window and start < droppable:
        total -= sizes[start]
        start += 1
    return [message for turn in turns[start:] for message in turn]
