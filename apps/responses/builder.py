"""Build a response object and its OpenAI stream events from a chat completion (whole, or chunk by chunk).

Stream events follow OpenAI's Responses API exactly: `sequence_number` from 0; `response.created`,
`response.in_progress`; per assistant message `output_item.added`, `content_part.added`, `output_text.delta`...,
`output_text.done`, `content_part.done`, `output_item.done`; per function call `output_item.added`,
`function_call_arguments.delta`..., `function_call_arguments.done`, `output_item.done`; then `response.completed`,
`response.incomplete` or `response.failed`. The output item and content part events also carry `response_id`, which
llama-stack's event models require (llama-stack-client cannot read them without it; OpenAI's SDK keeps the extra
field).

With server-side tools (apps/responses/tool_loop.py) one response is made of several chat completions: the builder
keeps its output, sequence numbers and usage across them (`next_round`); calls to the functions server-side tools
offer (`server_names`) are not `function_call` items but left to the tools, which add their own items through
`add_item` / `item_event` / `item_done` (the `ItemOutput` of apps/tools/server_tools.py). Once an assistant message's
text is whole, `annotate` (set by the tool loop: web search's `url_citation`s) gives its annotations, streamed as
`response.output_text.annotation.added` before `response.output_text.done`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apps.core.chat import ChoiceAccumulator, CompletionAccumulator
from apps.core.errors import BadRequestError, RateLimitError, StackAdminError
from apps.responses.items import new_output_id

# The event types whose llama-stack models have a required `response_id` (its other event types have none).
_WITH_RESPONSE_ID = frozenset(
    {
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
    }
)


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
    prompt_details = usage.get("prompt_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") or 0
    cache_write = prompt_details.get("cache_write_tokens") or 0  # OpenAI's usage object requires the field
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int(cached), "cache_write_tokens": int(cache_write)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(reasoning)},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _text_part(text: str, logprobs: list[dict] | None = None, annotations: list[dict] | None = None) -> dict:
    return {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": logprobs or []}


def _token(entry: dict) -> dict:
    token = str(entry.get("token") or "")
    raw_bytes = entry.get("bytes")
    return {
        "token": token,
        "bytes": raw_bytes if isinstance(raw_bytes, list) else list(token.encode()),
        "logprob": float(entry.get("logprob") or 0.0),
    }


def logprob_items(choice_logprobs: Any) -> list[dict]:
    """A chat choice's `logprobs.content` as the Responses API's output text `logprobs`."""
    content = choice_logprobs.get("content") if isinstance(choice_logprobs, dict) else None
    return [
        {
            **_token(entry),
            "top_logprobs": [_token(top) for top in entry.get("top_logprobs") or () if isinstance(top, dict)],
        }
        for entry in content or ()
        if isinstance(entry, dict)
    ]


class ResponseBuilder:
    def __init__(self, *, response_id: str, created_at: int, echo: dict, logprobs: bool = False) -> None:
        self.response_id = response_id
        self.created_at = created_at
        self.echo = echo  # the request fields a response repeats (model, instructions, tools, prompt, ...)
        self.with_logprobs = logprobs  # the output text carries the model's logprobs
        self._logprobs: list[dict] = []  # those of the open message's text
        self._service_tier: str | None = None  # as the model server reports it, over the requested one
        self.sequence = 0
        self.output: list[dict] = []
        # The chat completion the response reports on (usage, finish reason, the message a later turn resumes
        # from): fed chunk by chunk, or filled at once from a whole completion.
        self.accumulator = CompletionAccumulator()
        self._message: dict | None = None  # the open assistant message item
        self._message_index = -1
        self._text: list[str] = []
        self._refusal: list[str] | None = None
        self._calls: dict[int, tuple[int, dict]] = {}  # chat tool-call index -> (output index, item)
        self._open_call: int | None = None
        self.server_names: frozenset[str] = frozenset()  # functions of server-side tools: no function_call items
        self._server_calls: set[int] = set()  # chat tool-call indexes of this round that call one of those
        self._usage_before: dict | None = None  # the usage of earlier rounds (chat completions) of this response
        self.annotate: Callable[[str], list[dict]] | None = None  # an output text's annotations, once it is whole

    # ------------------------------------------------------------------------------------------ objects
    def _choice(self) -> ChoiceAccumulator | None:
        """The choice a response is made of (a request asks for one)."""
        return self.accumulator.choices.get(0)

    def response(self, status: str, *, error: dict | None = None) -> dict:
        incomplete = None
        choice = self._choice()
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
            "usage": usage_object(self.usage()) if status != "in_progress" else None,
        }
        body.update(self.echo)
        if self._service_tier:
            body["service_tier"] = self._service_tier
        return body

    def final_status(self) -> str:
        choice = self._choice()
        if choice is not None and choice.finish_reason in ("length", "content_filter"):
            return "incomplete"
        return "completed"

    def usage(self) -> dict | None:
        """The chat usage of every round so far."""
        return _usage_sum(self._usage_before, self.accumulator.usage)

    def next_round(self) -> None:
        """The model is called again (after server-side tool results): a new chat completion to accumulate."""
        self._usage_before = self.usage()
        self.accumulator = CompletionAccumulator()
        self._calls, self._open_call, self._server_calls = {}, None, set()

    def round_calls(self) -> tuple[list[dict], bool]:
        """(this round's chat tool calls to server-side tools, whether it also called a client function)."""
        choice = self._choice()
        calls = [choice.tool_calls[i] for i in sorted(choice.tool_calls)] if choice is not None else []
        server = [call for call in calls if call["function"]["name"] in self.server_names]
        return server, len(server) < len(calls)

    # ------------------------------------------------------------------------------------------ tool items
    def _index(self, item: dict) -> int:
        return next(index for index, candidate in enumerate(self.output) if candidate is item)

    def add_item(self, item: dict) -> dict:
        self.output.append(item)
        return self.event("response.output_item.added", output_index=len(self.output) - 1, item=dict(item))

    def item_event(self, kind: str, item: dict, **fields: Any) -> dict:
        return self.event(kind, item_id=item["id"], output_index=self._index(item), **fields)

    def item_done(self, item: dict) -> dict:
        return self.event("response.output_item.done", output_index=self._index(item), item=dict(item))

    def assistant_message(self) -> dict | None:
        """The chat message the model produced, as it will be resumed from."""
        choice = self._choice()
        return choice.message() if choice is not None else None

    # ------------------------------------------------------------------------------------------ events
    def event(self, kind: str, **fields: Any) -> dict:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        if kind in _WITH_RESPONSE_ID:
            event["response_id"] = self.response_id
        self.sequence += 1
        return event

    def _message_event(self, kind: str, content_index: int, **fields: Any) -> dict:
        """An event about one content part of the open message (0: its text, 1: its refusal)."""
        return self.event(
            kind,
            item_id=self._message["id"],
            output_index=self._message_index,
            content_index=content_index,
            **fields,
        )

    def start(self) -> list[dict]:
        snapshot = self.response("in_progress")
        return [
            self.event("response.created", response=snapshot),
            self.event("response.in_progress", response=snapshot),
        ]

    def _open_message(self) -> list[dict]:
        self._message = _message_item("in_progress", [])
        self._message_index = len(self.output)
        self.output.append(self._message)
        self._text, self._logprobs = [], []
        return [
            self.event("response.output_item.added", output_index=self._message_index, item=dict(self._message)),
            self._message_event("response.content_part.added", 0, part=_text_part("")),
        ]

    def _close_message(self) -> list[dict]:
        if self._message is None:
            return []
        text = "".join(self._text)
        annotations = self._annotations(text)
        part = _text_part(text, self._logprobs, annotations)
        events = [
            self._message_event("response.output_text.annotation.added", 0, annotation_index=index, annotation=found)
            for index, found in enumerate(annotations)
        ]
        events += [
            self._message_event("response.output_text.done", 0, text=text, logprobs=list(self._logprobs)),
            self._message_event("response.content_part.done", 0, part=part),
        ]
        content = [part]
        if self._refusal is not None:
            refusal_part = _refusal_part("".join(self._refusal))
            events.append(self._message_event("response.refusal.done", 1, refusal=refusal_part["refusal"]))
            events.append(self._message_event("response.content_part.done", 1, part=refusal_part))
            content.append(refusal_part)
        self._message.update(status="completed", content=content)
        events.append(
            self.event("response.output_item.done", output_index=self._message_index, item=dict(self._message))
        )
        self._message, self._refusal = None, None
        return events

    def _annotations(self, text: str) -> list[dict]:
        return self.annotate(text) if self.annotate is not None and text else []

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
        if isinstance(chunk.get("service_tier"), str):
            self._service_tier = chunk["service_tier"]
        events: list[dict] = []
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                events += self._on_delta(choice.get("delta") or {}, choice.get("logprobs"))
        return events

    def _on_delta(self, delta: dict, logprobs: Any = None) -> list[dict]:
        events: list[dict] = []
        text = delta.get("content")
        if isinstance(text, str) and text:
            events += self._on_text(text, logprob_items(logprobs) if self.with_logprobs else [])
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            events += self._on_refusal(refusal)
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                events += self._on_tool_call(call)
        return events

    def _on_text(self, text: str, logprobs: list[dict]) -> list[dict]:
        events = self._close_call()
        if self._message is None:
            events += self._open_message()
        self._text.append(text)
        self._logprobs += logprobs
        events.append(self._message_event("response.output_text.delta", 0, delta=text, logprobs=logprobs))
        return events

    def _on_refusal(self, refusal: str) -> list[dict]:
        events: list[dict] = []
        if self._message is None:
            events += self._close_call()
            events += self._open_message()
        if self._refusal is None:
            self._refusal = []
            events.append(self._message_event("response.content_part.added", 1, part=_refusal_part("")))
        self._refusal.append(refusal)
        events.append(self._message_event("response.refusal.delta", 1, delta=refusal))
        return events

    def _on_tool_call(self, call: dict) -> list[dict]:
        events: list[dict] = []
        position = call.get("index", 0)
        function = call.get("function") or {}
        if position in self._server_calls:
            return events
        if position not in self._calls and function.get("name") in self.server_names:
            self._server_calls.add(position)  # its tool makes its items once the call is whole
            accumulated = self.accumulator.choice(0).tool_calls.get(position)
            if accumulated is not None and not accumulated["id"]:
                accumulated["id"] = new_output_id("call")
            return events
        if position not in self._calls:
            events += self._close_message()
            events += self._close_call()
            item = _function_call_item(
                "in_progress", call.get("id") or new_output_id("call"), function.get("name") or "", ""
            )
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
            self._message.update(status="incomplete", content=[_text_part("".join(self._text), self._logprobs)])
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
        if isinstance(completion.get("service_tier"), str):
            self._service_tier = completion["service_tier"]
        choices = completion.get("choices") or []
        first = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if first is not None:
            self._take_choice(first)

    def _take_choice(self, first: dict) -> None:
        """Record the whole choice as a stream would have left it, so that status, usage and the message resumed
        from are read in one place; a tool call without an id gets the one the client is given."""
        choice = self.accumulator.choice(0)
        choice.finish_reason = first.get("finish_reason")
        message = first.get("message") or {}
        content, refusal = message.get("content"), message.get("refusal")
        text = _nonempty_text(content)
        if text:
            choice.content.append(text)
        if _nonempty_text(refusal):
            choice.refusal.append(refusal)
        calls = [_chat_tool_call(call) for call in message.get("tool_calls") or () if isinstance(call, dict)]
        choice.tool_calls.update(enumerate(calls))
        if text or refusal:
            logprobs = logprob_items(first.get("logprobs")) if self.with_logprobs else None
            parts = [_text_part(content or "", logprobs, self._annotations(content or ""))]
            if refusal:
                parts.append(_refusal_part(refusal))
            self.output.append(_message_item("completed", parts))
        self.output += [
            _function_call_item("completed", call["id"], call["function"]["name"], call["function"]["arguments"])
            for call in calls
            if call["function"]["name"] not in self.server_names
        ]


def _count(usage: dict, group: str | None, name: str) -> int:
    part = usage.get(group) if group else usage
    value = part.get(name) if isinstance(part, dict) else None
    return int(value or 0)


def _usage_sum(first: dict | None, second: dict | None) -> dict | None:
    """Two chat usages added up (the counts `usage_object` reads)."""
    if not isinstance(first, dict) or not isinstance(second, dict):
        return second if isinstance(second, dict) else first

    def both(group: str | None, name: str) -> int:
        return _count(first, group, name) + _count(second, group, name)

    return {
        "prompt_tokens": both(None, "prompt_tokens"),
        "completion_tokens": both(None, "completion_tokens"),
        "total_tokens": both(None, "total_tokens"),
        "prompt_tokens_details": {
            "cached_tokens": both("prompt_tokens_details", "cached_tokens"),
            "cache_write_tokens": both("prompt_tokens_details", "cache_write_tokens"),
        },
        "completion_tokens_details": {"reasoning_tokens": both("completion_tokens_details", "reasoning_tokens")},
    }


def _nonempty_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _refusal_part(refusal: str) -> dict:
    return {"type": "refusal", "refusal": refusal}


def _chat_tool_call(call: dict) -> dict:
    function = call.get("function") or {}
    return {
        "id": call.get("id") or new_output_id("call"),
        "type": "function",
        "function": {"name": function.get("name") or "", "arguments": function.get("arguments") or ""},
    }


def _message_item(status: str, content: list[dict]) -> dict:
    return {"id": new_output_id("msg"), "type": "message", "status": status, "role": "assistant", "content": content}


def _function_call_item(status: str, call_id: str, name: str, arguments: str) -> dict:
    return {
        "id": new_output_id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
