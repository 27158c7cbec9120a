"""Build a response object and its OpenAI stream events from a chat completion (whole, or chunk by chunk).

Stream events follow OpenAI's Responses API exactly: `sequence_number` from 0; `response.created`,
`response.in_progress`; per assistant message `output_item.added`, `content_part.added`, `output_text.delta`...,
`output_text.done`, `content_part.done`, `output_item.done`; per function call `output_item.added`,
`function_call_arguments.delta`..., `function_call_arguments.done`, `output_item.done`; then `response.completed`,
`response.incomplete` or `response.failed`.
"""

from __future__ import annotations

import time
from typing import Any

from apps.core.chat import CompletionAccumulator
from apps.core.errors import BadRequestError, RateLimitError, StackAdminError
from apps.responses.items import new_output_id


def error_code(exc: StackAdminError) -> str:
    """The `response.error.code` (one of OpenAI's ResponseError codes) for a failure of the model server."""
    if isinstance(exc, RateLimitError):
        return "rate_limit_exceeded"
    if isinstance(exc, BadRequestError):
        return "invalid_prompt"
    return "server_error"


def usage_object(usage: dict | None) -> dict | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(cached)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(reasoning)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


class ResponseBuilder:
    def __init__(self, *, response_id: str, created_at: int, echo: dict) -> None:
        self.response_id = response_id
        self.created_at = created_at
        self.echo = echo  # the request fields a response repeats (model, instructions, tools, prompt, ...)
        self.sequence = 0
        self.output: list[dict] = []
        self.accumulator = CompletionAccumulator()
        self._message: dict | None = None  # the open assistant message item
        self._message_index = -1
        self._text: list[str] = []
        self._refusal: list[str] | None = None
        self._calls: dict[int, tuple[int, dict]] = {}  # chat tool-call index -> (output index, item)
        self._open_call: int | None = None

    # ------------------------------------------------------------------------------------------ objects
    def response(self, status: str, *, error: dict | None = None) -> dict:
        completion = self.accumulator
        incomplete = None
        choice = completion.choices.get(0)
        if status == "incomplete" and choice is not None:
            incomplete = {
                "reason": "content_filter" if choice.finish_reason == "content_filter" else "max_output_tokens"
            }
        body = {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if status in ("completed", "incomplete") else None,
            "error": error,
            "incomplete_details": incomplete,
            "output": [dict(item) for item in self.output] if status != "in_progress" else [],
            "usage": usage_object(completion.usage) if status != "in_progress" else None,
        }
        body.update(self.echo)
        return body

    def final_status(self) -> str:
        choice = self.accumulator.choices.get(0)
        if choice is not None and choice.finish_reason in ("length", "content_filter"):
            return "incomplete"
        return "completed"

    def assistant_message(self) -> dict | None:
        """The chat message the model produced, as it will be resumed from."""
        choice = self.accumulator.choices.get(0)
        return choice.message() if choice is not None else None

    # ------------------------------------------------------------------------------------------ events
    def event(self, kind: str, **fields: Any) -> dict:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def start(self) -> list[dict]:
        snapshot = self.response("in_progress")
        return [
            self.event("response.created", response=snapshot),
            self.event("response.in_progress", response=snapshot),
        ]

    def _open_message(self) -> list[dict]:
        self._message = {
            "id": new_output_id("msg"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._message_index = len(self.output)
        self.output.append(self._message)
        self._text = []
        return [
            self.event("response.output_item.added", output_index=self._message_index, item=dict(self._message)),
            self.event(
                "response.content_part.added",
                item_id=self._message["id"],
                output_index=self._message_index,
                content_index=0,
                part=_text_part(""),
            ),
        ]

    def _close_message(self) -> list[dict]:
        if self._message is None:
            return []
        message, index, text = self._message, self._message_index, "".join(self._text)
        part = _text_part(text)
        events = [
            self.event(
                "response.output_text.done",
                item_id=message["id"],
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            ),
            self.event(
                "response.content_part.done", item_id=message["id"], output_index=index, content_index=0, part=part
            ),
        ]
        content = [part]
        if self._refusal is not None:
            refusal = "".join(self._refusal)
            events.append(
                self.event(
                    "response.refusal.done", item_id=message["id"], output_index=index, content_index=1, refusal=refusal
                )
            )
            refusal_part = {"type": "refusal", "refusal": refusal}
            events.append(
                self.event(
                    "response.content_part.done",
                    item_id=message["id"],
                    output_index=index,
                    content_index=1,
                    part=refusal_part,
                )
            )
            content.append(refusal_part)
        message.update(status="completed", content=content)
        events.append(self.event("response.output_item.done", output_index=index, item=dict(message)))
        self._message, self._refusal = None, None
        return events

    def _close_call(self) -> list[dict]:
        if self._open_call is None:
            return []
        index, item = self._calls[self._open_call]
        self._open_call = None
        item["status"] = "completed"
        return [
            self.event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            ),
            self.event("response.output_item.done", output_index=index, item=dict(item)),
        ]

    def on_chunk(self, chunk: dict) -> list[dict]:
        self.accumulator.add(chunk)
        events: list[dict] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if isinstance(text, str) and text:
                events += self._close_call()
                if self._message is None:
                    events += self._open_message()
                self._text.append(text)
                events.append(
                    self.event(
                        "response.output_text.delta",
                        item_id=self._message["id"],
                        output_index=self._message_index,
                        content_index=0,
                        delta=text,
                        logprobs=[],
                    )
                )
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                if self._message is None:
                    events += self._close_call()
                    events += self._open_message()
                if self._refusal is None:
                    self._refusal = []
                    events.append(
                        self.event(
                            "response.content_part.added",
                            item_id=self._message["id"],
                            output_index=self._message_index,
                            content_index=1,
                            part={"type": "refusal", "refusal": ""},
                        )
                    )
                self._refusal.append(refusal)
                events.append(
                    self.event(
                        "response.refusal.delta",
                        item_id=self._message["id"],
                        output_index=self._message_index,
                        content_index=1,
                        delta=refusal,
                    )
                )
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    events += self._on_tool_call(call)
        return events

    def _on_tool_call(self, call: dict) -> list[dict]:
        events: list[dict] = []
        position = call.get("index", 0)
        function = call.get("function") or {}
        if position not in self._calls:
            events += self._close_message()
            events += self._close_call()
            item = {
                "id": new_output_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.get("id") or new_output_id("call"),
                "name": function.get("name") or "",
                "arguments": "",
            }
            index = len(self.output)
            self.output.append(item)
            self._calls[position] = (index, item)
            self._open_call = position
            accumulated = self.accumulator.choice(0).tool_calls.get(position)
            if accumulated is not None and not accumulated["id"]:
                accumulated["id"] = item["call_id"]  # resumption must see the call id the client was given
            events.append(self.event("response.output_item.added", output_index=index, item=dict(item)))
        elif function.get("name"):
            self._calls[position][1]["name"] += function["name"]
        index, item = self._calls[position]
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            events.append(
                self.event(
                    "response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=arguments
                )
            )
        return events

    def finish(self) -> list[dict]:
        """Close whatever is open once the model's stream has ended."""
        return self._close_message() + self._close_call()

    def terminal(self, status: str) -> tuple[dict, dict]:
        response = self.response(status)
        return response, self.event(f"response.{status}", response=response)

    def failed(self, exc: StackAdminError) -> tuple[dict, dict]:
        """The model's stream broke: what was produced so far, the unfinished item marked incomplete."""
        if self._message is not None:
            self._message.update(status="incomplete", content=[_text_part("".join(self._text))])
        if self._open_call is not None:
            self._calls[self._open_call][1]["status"] = "incomplete"
        response = self.response("failed", error={"code": error_code(exc), "message": exc.message})
        return response, self.event("response.failed", response=response)

    # ------------------------------------------------------------------------------------------ whole
    def from_completion(self, completion: dict) -> None:
        """Build the output from a non-streamed chat completion: its first choice's message and tool calls."""
        self.accumulator.id = completion.get("id")
        self.accumulator.model = completion.get("model")
        self.accumulator.usage = completion.get("usage")
        choices = completion.get("choices") or []
        first = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if first is None:
            return
        choice = self.accumulator.choice(0)
        choice.finish_reason = first.get("finish_reason")
        message = first.get("message") or {}
        content, refusal = message.get("content"), message.get("refusal")
        text = content if isinstance(content, str) and content else None
        if text:
            choice.content.append(text)
        if isinstance(refusal, str) and refusal:
            choice.refusal.append(refusal)
        calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
        choice.tool_calls.update({position: _chat_tool_call(call) for position, call in enumerate(calls)})
        if text or refusal:
            self.output.append(_message_item(content or "", refusal))
        self.output += [_function_call_item(call) for call in choice.tool_calls.values()]


def _chat_tool_call(call: dict) -> dict:
    function = call.get("function") or {}
    return {
        "id": call.get("id") or new_output_id("call"),
        "type": "function",
        "function": {"name": function.get("name") or "", "arguments": function.get("arguments") or ""},
    }


def _message_item(content: Any, refusal: Any) -> dict:
    parts = [_text_part(content)]
    if refusal:
        parts.append({"type": "refusal", "refusal": refusal})
    return {"id": new_output_id("msg"), "type": "message", "status": "completed", "role": "assistant", "content": parts}


def _function_call_item(call: dict) -> dict:
    return {
        "id": new_output_id("fc"),
        "type": "function_call",
        "status": "completed",
        "call_id": call["id"],
        "name": call["function"]["name"],
        "arguments": call["function"]["arguments"],
    }
