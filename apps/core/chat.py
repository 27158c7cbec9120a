"""OpenAI's chat-completion wire format: the `chat.completion` object a stream of `chat.completion.chunk`s adds up to.

Two apps read it: Chat Completions stores the completion a stream assembled, and Responses builds a response (its
usage, status and the assistant message a later turn resumes from) from a completion, whole or streamed. Like the
Responses items in `apps.core.items`, it is a format several apps speak, not one app's business, so it lives here.
"""

from __future__ import annotations

from typing import Any


class ChoiceAccumulator:
    """One choice of a streamed completion: its message as it grows, delta by delta."""

    __slots__ = ("content", "finish_reason", "index", "logprobs", "refusal", "role", "tool_calls")

    def __init__(self, index: int) -> None:
        self.index = index
        self.role = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, dict] = {}
        self.finish_reason: str | None = None
        self.logprobs: list | None = None

    def add(self, choice: dict) -> None:
        delta = choice.get("delta") or {}
        if delta.get("role"):
            self.role = delta["role"]
        if isinstance(delta.get("content"), str):
            self.content.append(delta["content"])
        if isinstance(delta.get("refusal"), str):
            self.refusal.append(delta["refusal"])
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                self._add_tool_call(call)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            self.logprobs = (self.logprobs or []) + logprobs["content"]

    def _add_tool_call(self, call: dict) -> None:
        """A tool call arrives in pieces: its id and type once, its name and arguments in fragments."""
        index = call.get("index", len(self.tool_calls))
        current = self.tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            current["id"] = call["id"]
        if call.get("type"):
            current["type"] = call["type"]
        function = call.get("function") or {}
        if function.get("name"):
            current["function"]["name"] += function["name"]
        if function.get("arguments"):
            current["function"]["arguments"] += function["arguments"]

    def message(self) -> dict:
        message: dict[str, Any] = {
            "role": self.role,
            "content": "".join(self.content) if self.content or not self.tool_calls else None,
        }
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        return message

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "message": self.message(),
            "finish_reason": self.finish_reason,
            "logprobs": {"content": self.logprobs} if self.logprobs is not None else None,
        }


class CompletionAccumulator:
    """The chunks of one streamed chat completion, added in order; `completion()` is what they add up to so far."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.created: int | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self.service_tier: str | None = None
        self.usage: dict | None = None
        self.choices: dict[int, ChoiceAccumulator] = {}

    def add(self, chunk: dict) -> None:
        if self.id is None and chunk.get("id"):
            self.id = chunk["id"]
        if self.created is None and isinstance(chunk.get("created"), int):
            self.created = chunk["created"]
        if self.model is None and chunk.get("model"):
            self.model = chunk["model"]
        if chunk.get("system_fingerprint"):
            self.system_fingerprint = chunk["system_fingerprint"]
        if chunk.get("service_tier"):
            self.service_tier = chunk["service_tier"]
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                index = choice.get("index", 0)
                self.choices.setdefault(index, ChoiceAccumulator(index)).add(choice)

    def choice(self, index: int = 0) -> ChoiceAccumulator:
        return self.choices.setdefault(index, ChoiceAccumulator(index))

    def completion(self) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created or 0,
            "model": self.model,
            "choices": [self.choices[i].as_dict() for i in sorted(self.choices)],
            "usage": self.usage,
            "system_fingerprint": self.system_fingerprint,
            "service_tier": self.service_tier,
        }
