"""Chat Completions: pass the request through to the model's provider, store what came back.

Every completion is stored unless the request says `store: false` (llama-stack stores all of them; OpenAI's own
default is not to, but a server whose point is to keep the record should keep it unless told otherwise).
`store` and `metadata` are stackadmin's business and are not forwarded; every other field is, untouched, except
`model`, which becomes the provider's name for the model. A stored completion is committed before the create call
returns (for a stream: before its `[DONE]`), so it can be read back at once from any worker process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from apps.conversations.services import validate_metadata
from apps.core.access import require_create
from apps.core.errors import BadRequestError, StackAdminError
from apps.core.http import SSE_DONE, error_body, sse_data
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.chunks import CompletionAccumulator
from apps.inference.models import ChatCompletion
from apps.inference.registry import registry
from apps.inference.selectors import chat_completion_not_found, chat_completions_visible
from apps.storage.write_queue import write_queue

logger = logging.getLogger("apps.inference")

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_NOT_FORWARDED = ("store", "metadata")


def _bad(message: str, param: str, code: str = "invalid_value") -> BadRequestError:
    return BadRequestError(message, param=param, code=code)


def validate_chat_request(body: Mapping[str, Any]) -> None:
    """The checks OpenAI makes before a model runs; anything else is for the model server to judge."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("Invalid value for 'messages': expected a non-empty array of messages.", "messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping):
            raise _bad(f"Invalid value for '{where}': expected a message object.", where)
        if message.get("role") not in CHAT_ROLES:
            raise _bad(
                f"Invalid value for '{where}.role': {message.get('role')!r}; expected one of {', '.join(CHAT_ROLES)}.",
                f"{where}.role",
            )
    for name, low, high in (
        ("temperature", 0, 2),
        ("top_p", 0, 1),
        ("frequency_penalty", -2, 2),
        ("presence_penalty", -2, 2),
    ):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise _bad(f"Invalid value for '{name}': {value!r}; expected a number from {low} to {high}.", name)
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128):
        raise _bad(f"Invalid value for 'n': {n!r}; expected an integer from 1 to 128.", "n")
    for flag in ("stream", "store"):
        if body.get(flag) is not None and not isinstance(body[flag], bool):
            raise _bad(f"Invalid value for '{flag}': expected true or false.", flag)
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("Invalid value for 'tools': expected an array of tools.", "tools")
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
                raise _bad(
                    f"Invalid value for 'tools[{index}]': expected "
                    "{type: 'function', function: {name, parameters}}.",
                    f"tools[{index}]",
                )
            if function.get("parameters") is not None and not isinstance(function["parameters"], Mapping):
                raise _bad(
                    f"Invalid value for 'tools[{index}].function.parameters': expected a JSON Schema object.",
                    f"tools[{index}].function.parameters",
                )


def chat_completion_store(
    *,
    completion: dict,
    input_messages: list,
    model: str,
    provider_id: str,
    metadata: dict,
    created_at: datetime,
    principal: Principal = ANONYMOUS,
) -> ChatCompletion:
    """Write one completion (run by the store's writers). A repeated upstream id from the same owner updates the
    row, as llama-stack; one from anyone else leaves the row alone."""
    fields = {
        "created_at": created_at,
        "model": model,
        "provider_id": provider_id,
        "completion": completion,
        "input_messages": input_messages,
        "metadata": metadata,
    }
    owner = ChatCompletion.owner_fields(principal)
    db = router.db_for_write(ChatCompletion)
    with transaction.atomic(using=db):
        # Ownership is stamped when the row is created and never changed by a later write with the same id.
        row, created = (
            ChatCompletion.objects.using(db)
            .select_for_update()
            .get_or_create(public_id=completion["id"], defaults={**fields, **owner})
        )
        if created:
            return row
        if row.owner_principal != owner["owner_principal"]:
            # Some model servers reuse ids (Ollama's are `chatcmpl-` and a number below 1000): another user's
            # completion must not replace this one's messages and metadata, which its owner would then read.
            logger.warning("chat completion %s not stored: the id belongs to another owner's", row.public_id)
            return row
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(using=db, update_fields=list(fields))
    return row


async def _store(**kwargs) -> None:
    await write_queue("inference").submit(lambda: chat_completion_store(**kwargs))


async def chat_completion_create(*, body: dict, principal: Principal = ANONYMOUS) -> dict | AsyncIterator[bytes]:
    """The completion (a dict), or for `stream: true` the SSE byte stream to send; upstream errors raise before."""
    validate_chat_request(body)
    model, upstream = await registry().resolve(body["model"])
    store = body.get("store") is not False
    if store:
        require_create(principal, "chat_completion")
    metadata = validate_metadata(body.get("metadata"))
    forwarded = {k: v for k, v in body.items() if k not in _NOT_FORWARDED}
    forwarded["model"] = model.provider_model_id
    created_at = timezone.now()
    record = {
        "input_messages": body["messages"],
        "model": model.model_id,
        "provider_id": model.provider_id,
        "metadata": metadata,
        "created_at": created_at,
        "principal": principal,
    }
    if not body.get("stream"):
        completion = await upstream.chat(forwarded)
        if store and completion.get("id"):
            await _store(completion=completion, **record)
        return completion

    chunks = await upstream.chat_stream(forwarded)

    async def events() -> AsyncIterator[bytes]:
        accumulator = CompletionAccumulator()
        try:
            async for chunk in chunks:
                accumulator.add(chunk)
                yield sse_data(chunk)
            if store and accumulator.id:
                await _store(completion=accumulator.completion(), **record)
        except StackAdminError as exc:
            # The SDK raises an APIError for a data line carrying `error`; the broken stream is not stored.
            yield sse_data(error_body(exc))
            return
        yield SSE_DONE

    return events()


def chat_completion_update(*, completion_id: str, metadata: Any, principal: Principal = ANONYMOUS) -> ChatCompletion:
    """Replace a stored completion's metadata (OpenAI's only update)."""
    clean = validate_metadata(metadata)
    row = chat_completions_visible(principal=principal).filter(public_id=completion_id).first()
    if row is None:
        raise chat_completion_not_found(completion_id)
    row.require_allowed(principal, "update")
    row.metadata = clean
    row.save(update_fields=["metadata"], using=router.db_for_write(ChatCompletion))
    return row


def chat_completion_delete(*, completion_id: str, principal: Principal = ANONYMOUS) -> None:
    row = chat_completions_visible(principal=principal).filter(public_id=completion_id).first()
    if row is not None:
        row.require_allowed(principal, "delete")
    deleted, _ = chat_completions_visible(principal=principal).filter(public_id=completion_id).delete()
    if not deleted:
        raise chat_completion_not_found(completion_id)
