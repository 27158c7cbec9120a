"""Create responses: one chat-completion call to the model's provider, described as an OpenAI response.

Everything that can be refused is checked before the model is called (and before a stream starts), so a caller's
mistake, an unknown model, prompt or previous response, or a model server that cannot be reached, is an ordinary
HTTP error and nothing is stored. Once a stream has started, a failure of the model server ends it with
`response.failed` (the response is stored as failed when `store` is on, never as completed).

The messages sent are: the stored prompt (system), `instructions` (system), the history, this turn's input.
History is the chat messages stored with the previous response (`previous_response_id`) or the conversation's
items (`conversation`). What is stored for resumption is the history plus this turn, without system messages:
like OpenAI, `instructions` and `prompt` apply to the request that carries them.

A stored response (and a conversation's new items) is committed before the create call returns, or in a stream
before `response.completed` is sent, so the next request can name it at once, in any worker process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from asgiref.sync import sync_to_async

from apps.conversations.items import MAX_ITEMS_PER_ADD
from apps.conversations.models import Conversation
from apps.conversations.selectors import (
    conversation_denied,
    conversation_get,
    conversation_items_list,
    conversations_visible,
    validate_conversation_id,
)
from apps.conversations.services import conversation_items_add, validate_metadata
from apps.core.access import ownership, require, require_create
from apps.core.errors import BadRequestError, NotFoundError, StackAdminError
from apps.core.http import sse_event
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.registry import Model, registry
from apps.inference.upstream import Upstream
from apps.inference.write_queue import write_queue
from apps.prompts import selectors as prompt_selectors
from apps.responses import items as conv
from apps.responses.builder import ResponseBuilder
from apps.responses.models import StoredResponse
from apps.responses.selectors import response_for_resume, response_not_found, responses_visible


@dataclass
class Plan:
    response_id: str
    created_at: datetime
    model: Model
    upstream: Upstream
    store: bool
    stream: bool
    echo: dict
    input_items: list[dict]
    messages: list[dict]  # history and this turn, without system messages: what resumption continues from
    upstream_body: dict
    principal: Principal
    prompt_id: str = ""
    prompt_version: int | None = None
    previous_response_id: str = ""
    conversation_id: str = ""


def new_response_id() -> str:
    return conv.new_output_id("resp")


# ------------------------------------------------------------------------------------------ prompt
@dataclass(frozen=True)
class ResolvedPrompt:
    prompt_id: str
    version: int
    text: str
    media: list[dict]  # content parts of image/file variables, sent after the prompt as a user message
    echo: dict


async def resolve_prompt(request: Mapping, principal: Principal = ANONYMOUS) -> ResolvedPrompt:
    """The stored prompt with its variables substituted. The request's shape was checked by its schema
    (`ResponsePrompt`); a prompt the caller cannot see is a 400 naming `prompt.id` or `prompt.version`."""
    prompt_id, variables = request["id"], request.get("variables") or {}
    try:
        rendered = await prompt_selectors.aprompt_render(
            prompt_id=prompt_id,
            version=request.get("version"),
            variables=variables,
            principal=principal,
            param="prompt.variables",
        )
    except NotFoundError as exc:
        param = "prompt.version" if exc.param == "version" else "prompt.id"
        raise BadRequestError(exc.message, param=param, code="prompt_not_found") from exc
    media = [conv.part_to_chat(part, f"prompt.variables.{name}") for name, part in rendered.media.items()]
    echo = {"id": prompt_id, "version": str(rendered.version), "variables": dict(variables) or None}
    return ResolvedPrompt(prompt_id, rendered.version, rendered.text, media, echo)


# ------------------------------------------------------------------------------------------ history
def _conversation_id(raw: Any) -> str:
    if isinstance(raw, Mapping):
        raw = raw.get("id")
    return validate_conversation_id(raw, param="conversation")


def _conversation_items(conversation_id: str, principal: Principal, *, will_append: bool) -> list[dict]:
    conversation_get(conversation_id=conversation_id, principal=principal)
    if (
        will_append
        and not conversations_visible(principal=principal, action="update").filter(public_id=conversation_id).exists()
    ):
        # Refuse before the model is called, not after: the turn could never be appended.
        raise conversation_denied(conversation_id, principal, "update")
    items: list[dict] = []
    after = None
    while True:
        page = conversation_items_list(
            conversation_id=conversation_id, after=after, limit=100, order="asc", principal=principal
        )
        items += page.data
        if not page.has_more:
            return items
        after = page.last_id


def _history_from_items(items: list[dict]) -> list[dict]:
    usable = [
        item
        for item in items
        if item.get("type") in ("message", "function_call", "function_call_output")
        and not (item.get("type") == "message" and item.get("role") not in ("user", "assistant", "system", "developer"))
    ]
    return conv.items_to_messages(usable, known_calls=set(), param="conversation.items")


# ------------------------------------------------------------------------------------------ plan
def _check_unsupported(body: Mapping) -> None:
    if body.get("background"):
        raise BadRequestError(
            "Invalid value for 'background': background responses are not supported by stackadmin.",
            param="background",
            code="unsupported_parameter",
        )
    if body.get("truncation") == "auto":
        raise BadRequestError(
            "Invalid value for 'truncation': 'auto' is not supported by stackadmin; leave it out or use 'disabled'.",
            param="truncation",
            code="unsupported_parameter",
        )


async def plan_response(*, body: Mapping, principal: Principal) -> Plan:
    """Check the request, resolve model, prompt and history, and build the chat-completion request."""
    _check_unsupported(body)
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise BadRequestError("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    prompt_request = body.get("prompt")
    if body.get("input") is None and prompt_request is None:
        raise BadRequestError("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    previous_id, conversation_raw = body.get("previous_response_id"), body.get("conversation")
    if previous_id and conversation_raw:
        raise BadRequestError(
            "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. Ensure you are only providing "
            "one of: 'previous_response_id' or 'conversation'.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )
    conversation_id = _conversation_id(conversation_raw) if conversation_raw else ""
    metadata = validate_metadata(body.get("metadata"))
    tools = conv.check_tools(body.get("tools"))
    tool_choice_echo, sent_tools, chat_tool_choice = conv.check_tool_choice(body.get("tool_choice"), tools)
    text_echo, response_format = conv.check_text(body.get("text"))
    input_items = conv.normalize_input(body["input"]) if body.get("input") is not None else []

    if body.get("store") is not False:
        require_create(principal, "response")
    model, upstream = await registry().resolve(model_id)
    prompt = await resolve_prompt(prompt_request, principal) if prompt_request is not None else None

    if previous_id:
        previous = await sync_to_async(response_for_resume)(response_id=previous_id, principal=principal)
        history = list(previous.messages)
    elif conversation_id:
        will_append = body.get("store") is not False
        history = _history_from_items(
            await sync_to_async(_conversation_items)(conversation_id, principal, will_append=will_append)
        )
    else:
        history = []
    turn = conv.items_to_messages(input_items, known_calls=conv.tool_call_ids(history))
    conversation_messages = conv.join_turn(history, turn)

    system: list[dict] = []
    if prompt is not None:
        system.append({"role": "system", "content": prompt.text})
    if body.get("instructions"):
        system.append({"role": "system", "content": body["instructions"]})
    messages = [*system, *conversation_messages]
    if prompt is not None and prompt.media:
        messages.append({"role": "user", "content": prompt.media})

    upstream_body: dict[str, Any] = {"model": model.provider_model_id, "messages": messages}
    for name, target in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("max_output_tokens", "max_completion_tokens"),
    ):
        if body.get(name) is not None:
            upstream_body[target] = body[name]
    if sent_tools:
        upstream_body["tools"] = conv.chat_tools(sent_tools)
        if chat_tool_choice is not None:
            upstream_body["tool_choice"] = chat_tool_choice
        if body.get("parallel_tool_calls") is not None:
            upstream_body["parallel_tool_calls"] = body["parallel_tool_calls"]
    if response_format is not None:
        upstream_body["response_format"] = response_format
    reasoning = body.get("reasoning") or None
    if reasoning and reasoning.get("effort"):
        upstream_body["reasoning_effort"] = reasoning["effort"]
    stream = bool(body.get("stream"))
    if stream:
        upstream_body["stream"] = True
        upstream_body["stream_options"] = {"include_usage": True}

    store = body.get("store") is not False
    echo = {
        "model": model_id,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "metadata": metadata,
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": previous_id or None,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "prompt": prompt.echo if prompt is not None else None,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": (reasoning or {}).get("effort"), "summary": (reasoning or {}).get("summary")},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": store,
        "temperature": body["temperature"] if body.get("temperature") is not None else 1.0,
        "text": text_echo,
        "tool_choice": tool_choice_echo,
        "tools": tools,
        "top_logprobs": 0,
        "top_p": body["top_p"] if body.get("top_p") is not None else 1.0,
        "truncation": "disabled",
        "user": body.get("user"),
    }
    return Plan(
        response_id=new_response_id(),
        created_at=timezone.now(),
        model=model,
        upstream=upstream,
        store=store,
        stream=stream,
        echo=echo,
        input_items=input_items,
        messages=conversation_messages,
        upstream_body=upstream_body,
        principal=principal,
        prompt_id=prompt.prompt_id if prompt else "",
        prompt_version=prompt.version if prompt else None,
        previous_response_id=previous_id or "",
        conversation_id=conversation_id,
    )


# ------------------------------------------------------------------------------------------ finish
def response_row(*, plan: Plan, response: dict, messages: list[dict]) -> StoredResponse:
    """One response, not saved yet: the responses store's writers insert it."""
    return StoredResponse(
        public_id=plan.response_id,
        created_at=plan.created_at,
        model=plan.echo["model"],
        status=response["status"],
        response=response,
        input_items=plan.input_items,
        messages=messages,
        prompt_id=plan.prompt_id,
        prompt_version=plan.prompt_version,
        previous_response_id=plan.previous_response_id,
        conversation_id=plan.conversation_id,
        **ownership(plan.principal),
    )


def _append_to_conversation(plan: Plan, output: list[dict]) -> None:
    """The turn's items, all or none: the add-items limit of 20 splits them into calls, one transaction holds them."""
    items = [*plan.input_items, *output]
    with transaction.atomic(using=router.db_for_write(Conversation)):
        for start in range(0, len(items), MAX_ITEMS_PER_ADD):
            conversation_items_add(
                conversation_id=plan.conversation_id,
                items=items[start : start + MAX_ITEMS_PER_ADD],
                principal=plan.principal,
            )


async def _finish(plan: Plan, builder: ResponseBuilder, response: dict) -> None:
    """After a successful model call: the conversation's new items, then the stored response."""
    if not plan.store:
        return
    if plan.conversation_id:
        await sync_to_async(_append_to_conversation)(plan, response["output"])
    assistant = builder.assistant_message()
    messages = [*plan.messages, *([assistant] if assistant else [])]
    await write_queue("responses").insert(response_row(plan=plan, response=response, messages=messages))


async def _store_failed(plan: Plan, response: dict) -> None:
    if plan.store:
        await write_queue("responses").insert(response_row(plan=plan, response=response, messages=plan.messages))


async def response_create(*, body: Mapping, principal: Principal = ANONYMOUS) -> dict | AsyncIterator[bytes]:
    """The response (a dict), or for `stream: true` the SSE byte stream; errors before the model runs raise."""
    plan = await plan_response(body=body, principal=principal)
    builder = ResponseBuilder(response_id=plan.response_id, created_at=int(plan.created_at.timestamp()), echo=plan.echo)
    if not plan.stream:
        completion = await plan.upstream.chat(plan.upstream_body)
        builder.from_completion(completion)
        response = builder.response(builder.final_status())
        await _finish(plan, builder, response)
        return response
    chunks = await plan.upstream.chat_stream(plan.upstream_body)
    return _stream(plan, builder, chunks)


async def _stream(plan: Plan, builder: ResponseBuilder, chunks: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    for event in builder.start():
        yield sse_event(event["type"], event)
    try:
        async for chunk in chunks:
            for event in builder.on_chunk(chunk):
                yield sse_event(event["type"], event)
        events = builder.finish()
    except StackAdminError as exc:
        response, event = builder.failed(exc)
        await _store_failed(plan, response)
        yield sse_event(event["type"], event)
        return
    for event in events:
        yield sse_event(event["type"], event)
    response, terminal = builder.terminal(builder.final_status())
    try:
        await _finish(plan, builder, response)
    except StackAdminError as exc:
        _, failed = builder.failed(exc)
        yield sse_event(failed["type"], failed)
        return
    yield sse_event(terminal["type"], terminal)


# ------------------------------------------------------------------------------------------ delete
def response_delete(*, response_id: str, principal: Principal = ANONYMOUS) -> None:
    row = responses_visible(principal=principal).filter(public_id=response_id).first()
    if row is not None:
        require(principal, "delete", "response", row)
    deleted, _ = responses_visible(principal=principal).filter(public_id=response_id).delete()
    if not deleted:
        raise response_not_found(response_id)
