"""A planned response (what `plan_response` decided: model, messages, what to echo and store) and the row a
finished one is stored as. Shared by the foreground path (apps.responses.services) and background runs
(apps.responses.background)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.core.principal import Principal
from apps.inference.selectors import ModelHandle
from apps.responses.models import StoredResponse
from apps.tools.server_tools import ServerTool


@dataclass
class Plan:
    response_id: str
    created_at: datetime
    model: ModelHandle
    store: bool
    stream: bool
    echo: dict
    input_items: list[dict]  # this request's own input: what a conversation gets appended
    history_items: list[dict]  # the items of the previous response's chain, or of the conversation, before this turn
    messages: list[dict]  # history and this turn, without system messages: what resumption continues from
    upstream_body: dict
    principal: Principal
    logprobs: bool = False  # the output text carries its logprobs (`include: ["message.output_text.logprobs"]`)
    prompt_id: str = ""
    prompt_version: int | None = None
    previous_response_id: str = ""
    conversation_id: str = ""
    prompt_labels: tuple[str, ...] = ()  # the labels pointing at the prompt version when it was resolved
    origin: str = "api"
    # Server-side tools (apps/tools/server_tools.py) and the request's cap on their calls; none: one model call.
    server_tools: list[ServerTool] = field(default_factory=list)
    max_tool_calls: int | None = None
    # Usage timing (apps.responses.usage): when the plan was made, and when the first output reached the stream.
    started: float = field(default_factory=time.monotonic)
    first_token_ms: int | None = None


def tool_call_count(output: object) -> int:
    """How many tool calls (items typed `*_call`: function, MCP, web search, ...) an output holds."""
    if not isinstance(output, list):
        return 0
    return sum(1 for item in output if isinstance(item, dict) and str(item.get("type") or "").endswith("_call"))


def usage_columns(*, plan: Plan, response: dict) -> dict[str, Any]:
    """What usage per prompt version reads of a finished response (apps.responses.usage): its token counts and
    the time from the plan to now (and to the first output, for a stream); and its tool calls, which the
    dashboard's list of responses counts and filters on."""
    usage = response.get("usage") or {}
    return {
        "tool_calls": tool_call_count(response.get("output")),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "reasoning_tokens": (usage.get("output_tokens_details") or {}).get("reasoning_tokens") if usage else None,
        "latency_ms": round((time.monotonic() - plan.started) * 1000),
        "first_token_ms": plan.first_token_ms,
    }


def response_row(*, plan: Plan, response: dict, messages: list[dict]) -> StoredResponse:
    """One response, not saved yet: the responses store's writers insert it."""
    return StoredResponse(
        public_id=plan.response_id,
        created_at=plan.created_at,
        model=plan.echo["model"],
        status=response["status"],
        response=response,
        input_items=[*plan.history_items, *plan.input_items],
        messages=messages,
        prompt_id=plan.prompt_id,
        prompt_version=plan.prompt_version,
        previous_response_id=plan.previous_response_id,
        conversation_id=plan.conversation_id,
        prompt_labels="".join(f"|{label}" for label in plan.prompt_labels) + ("|" if plan.prompt_labels else ""),
        origin=plan.origin,
        **usage_columns(plan=plan, response=response),
    ).stamp(plan.principal)
