"""Chat Completions: pass the request through to the model's provider, store what came back.

Every completion is stored unless the request says `store: false` (llama-stack stores all of them; OpenAI's own
default is not to, but a server whose point is to keep the record should keep it unless told otherwise).
`store` and `metadata` are stackadmin's business and are not forwarded; every other field is, untouched, except
`model`, which becomes the provider's name for the model. A stored completion is committed before the create call
returns (for a stream: before its `[DONE]`), so it can be read back at once from any worker process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

from django.db import router, transaction
from django.utils import timezone

from apps.core.access import require_create
from apps.core.chat import CompletionAccumulator
from apps.core.http import SSE_DONE, error_body, sse_data
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.models import ChatCompletion
from apps.inference.selectors import (
    chat_completion_get,
    chat_completion_not_found,
    chat_completions_visible,
    model_resolve,
)
from apps.storage.errors import reported_error
from apps.storage.write_queue import write_queue

logger = logging.getLogger("apps.inference")

_NOT_FORWARDED = ("store", "metadata")


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
    """The completion (a dict), or for `stream: true` the SSE byte stream to send; upstream errors raise before.

    `body` is the request as `CreateChatCompletionRequest` let it through."""
    model = await model_resolve(model_id=body["model"])
    store = body.get("store") is not False
    if store:
        require_create(principal, "chat_completion")
    forwarded = {k: v for k, v in body.items() if k not in _NOT_FORWARDED}
    forwarded["model"] = model.provider_model_id
    created_at = timezone.now()
    record = {
        "input_messages": body["messages"],
        "model": model.model_id,
        "provider_id": model.provider_id,
        "metadata": body.get("metadata") or {},
        "created_at": created_at,
        "principal": principal,
    }
    if not body.get("stream"):
        completion = await model.chat(forwarded)
        if store and completion.get("id"):
            await _store(completion=completion, **record)
        return completion

    chunks = await model.chat_stream(forwarded)

    async def events() -> AsyncIterator[bytes]:
        accumulator = CompletionAccumulator()
        try:
            async for chunk in chunks:
                accumulator.add(chunk)
                yield sse_data(chunk)
            if store and accumulator.id:
                await _store(completion=accumulator.completion(), **record)
        except Exception as exc:
            # Whatever failed (the model server, or the store write, whose database errors are not ours), the stream
            # ends with an error chunk, for which the SDK raises an APIError, then `[DONE]`; nothing is stored.
            yield sse_data(error_body(reported_error(exc)))
        yield SSE_DONE

    return events()


def chat_completion_update(
    *, completion_id: str, metadata: dict[str, str] | None, principal: Principal = ANONYMOUS
) -> ChatCompletion:
    """Replace a stored completion's metadata (OpenAI's only update)."""
    row = chat_completion_get(completion_id=completion_id, principal=principal)
    row.require_allowed(principal, "update")
    row.metadata = metadata or {}
    row.save(update_fields=["metadata"], using=router.db_for_write(ChatCompletion))
    return row


def chat_completion_delete(*, completion_id: str, principal: Principal = ANONYMOUS) -> None:
    chat_completions_visible(principal=principal).delete_by_id(
        completion_id, principal=principal, missing=chat_completion_not_found
    )
