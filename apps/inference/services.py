"""Chat Completions: pass the request through to the model's provider, store what came back.

Every completion is stored unless the request says `store: false` (llama-stack stores all of them; OpenAI's own
default is not to, but a server whose point is to keep the record should keep it unless told otherwise).
`store` and `metadata` are stackadmin's business and are not forwarded; every other field is, untouched, except
`model`, which becomes the provider's name for the model. A stored completion is committed before the create call
returns (for a stream: before its `[DONE]`), so it can be read back at once from any worker process.

A completion keeps the model server's id, unless another owner's stored completion already has it (some model
servers reuse ids: Ollama's are `chatcmpl-` and a number below 1000). Then it gets a fresh id of stackadmin's,
and that is the id its caller receives, in the body or in every chunk of a stream, and finds it by. The other
owner's completion is left as it was. A repeat from the same owner replaces that owner's row, as in llama-stack.
A stream's id has to be chosen before its first chunk is sent, so it is checked then; in the rare case that
another owner's completion with the same id is stored while the stream runs, this one is stored under a fresh id
its caller was not told (logged as a warning).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from asgiref.sync import sync_to_async

from apps.core.access import require_create
from apps.core.chat import CompletionAccumulator
from apps.core.errors import BadRequestError, NotFoundError
from apps.core.http import SSE_DONE, error_body, sse_data
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.models import ChatCompletion
from apps.inference.selectors import (
    chat_completion_get,
    chat_completion_id_taken,
    chat_completion_not_found,
    chat_completions_visible,
    model_resolve,
)
from apps.prompts import selectors as prompt_selectors
from apps.storage.errors import reported_error
from apps.storage.write_queue import write_queue

logger = logging.getLogger("apps.inference")

_NOT_FORWARDED = ("store", "metadata")
# What `finish_reason` makes a stored completion count as incomplete in prompt usage.
_CUT_SHORT = ("length", "content_filter")
_NO_PROMPT = {"prompt_id": "", "prompt_version": None, "prompt_labels": ""}


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(16)


def prompt_use(*, metadata: dict[str, str], principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """The prompt version a completion says it was made with, as its usage columns.

    Clients that render a stored prompt themselves and call Chat Completions (Langfuse's and llama-stack's
    prompt-then-chat pattern) say so in OpenAI's own `metadata`: `prompt_id`, and optionally `prompt_version`,
    a number or a label, read as `prompt.version` of a response is (absent: the default version). The prompt
    must be one the caller may read: anything else is a 400 naming the metadata key, as an unknown `prompt.id`
    is for a response. The labels pointing at the version now are recorded with it."""
    prompt_id = metadata.get("prompt_id")
    if not prompt_id:
        return dict(_NO_PROMPT)
    version = metadata.get("prompt_version") or None
    number = int(version) if version is not None and version.isdigit() else None
    try:
        prompt_selectors.validate_prompt_id(prompt_id, param="metadata.prompt_id")
        if version is not None and number is None:
            prompt_selectors.validate_label(version, param="metadata.prompt_version")
        prompt = prompt_selectors.prompt_get(
            prompt_id=prompt_id, version=number, label=None if number is not None else version, principal=principal
        )
    except NotFoundError as exc:
        param = "metadata.prompt_version" if version is not None and exc.param in ("version", "label") else None
        raise BadRequestError(exc.message, param=param or "metadata.prompt_id", code="prompt_not_found") from exc
    labels = (*(("default",) if prompt.is_default else ()), *prompt.labels)
    return {
        "prompt_id": prompt_id,
        "prompt_version": prompt.version,
        "prompt_labels": "".join(f"|{label}" for label in labels) + ("|" if labels else ""),
    }


def usage_columns(completion: dict, *, started: float, first_token_ms: int | None) -> dict[str, Any]:
    """What prompt usage reads of a finished completion: its token counts, whether it was cut short, the time
    from the request to now and (streams) to the first chunk with output."""
    usage = completion.get("usage") or {}
    cut = any(choice.get("finish_reason") in _CUT_SHORT for choice in completion.get("choices") or ())
    return {
        "status": "incomplete" if cut else "completed",
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
        "reasoning_tokens": (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") if usage else None,
        "latency_ms": round((time.monotonic() - started) * 1000),
        "first_token_ms": first_token_ms,
    }


def chat_completion_store(
    *,
    completion: dict,
    input_messages: list,
    model: str,
    provider_id: str,
    metadata: dict,
    created_at: datetime,
    principal: Principal = ANONYMOUS,
    usage: dict[str, Any] | None = None,
) -> ChatCompletion:
    """Write one completion (run by the store's writers) and return its row, whose `public_id` is the id its
    caller must be told. A repeated upstream id from the same owner updates that owner's row, as llama-stack does;
    one that another owner's completion has is stored under a fresh id."""
    fields = {
        "created_at": created_at,
        "model": model,
        "provider_id": provider_id,
        "completion": completion,
        "input_messages": input_messages,
        "metadata": metadata,
        **(usage or {}),
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
            # Another user's completion must not be replaced (its owner would then read this one's messages and
            # metadata), and this one must not be lost: it gets an id of its own.
            fresh = new_completion_id()
            fields["completion"] = {**completion, "id": fresh}
            return ChatCompletion.objects.using(db).create(public_id=fresh, **fields, **owner)
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(using=db, update_fields=list(fields))
    return row


async def _store(**kwargs) -> ChatCompletion:
    return await write_queue("inference").submit(lambda: chat_completion_store(**kwargs))


async def _stream_id(upstream_id: str, principal: Principal) -> str:
    """The id a stored stream goes by, chosen before its first chunk is sent: the upstream's unless another owner's
    completion has it."""
    taken = await sync_to_async(chat_completion_id_taken)(completion_id=upstream_id, principal=principal)
    return new_completion_id() if taken else upstream_id


async def chat_completion_create(*, body: dict, principal: Principal = ANONYMOUS) -> dict | AsyncIterator[bytes]:
    """The completion (a dict), or for `stream: true` the SSE byte stream to send; upstream errors raise before.

    `body` is the request as `CreateChatCompletionRequest` let it through."""
    started = time.monotonic()
    model = await model_resolve(model_id=body["model"])
    store = body.get("store") is not False
    if store:
        require_create(principal, "chat_completion")
    prompt = await prompt_selectors.aread(prompt_use, metadata=body.get("metadata") or {}, principal=principal)
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
            usage = {**prompt, **usage_columns(completion, started=started, first_token_ms=None)}
            # Under the id it was stored by.
            completion = (await _store(completion=completion, usage=usage, **record)).completion
        return completion

    chunks = await model.chat_stream(forwarded)

    async def events() -> AsyncIterator[bytes]:
        accumulator = CompletionAccumulator()
        told = None  # the id this stream's chunks carry, once known
        first_token_ms = None
        try:
            async for chunk in chunks:
                if first_token_ms is None and _has_output(chunk):
                    first_token_ms = round((time.monotonic() - started) * 1000)
                if store and told is None and chunk.get("id"):
                    told = await _stream_id(chunk["id"], principal)
                if told is not None and chunk.get("id") not in (None, told):
                    chunk = {**chunk, "id": told}
                accumulator.add(chunk)
                yield sse_data(chunk)
            if store and accumulator.id:
                completion = accumulator.completion()
                usage = {**prompt, **usage_columns(completion, started=started, first_token_ms=first_token_ms)}
                row = await _store(completion=completion, usage=usage, **record)
                if row.public_id != told:
                    logger.warning(
                        "chat completion stream %s: another owner's completion took the id while it streamed; "
                        "stored as %s",
                        told,
                        row.public_id,
                    )
        except Exception as exc:
            # Whatever failed (the model server, or the store write, whose database errors are not ours), the stream
            # ends with an error chunk, for which the SDK raises an APIError, then `[DONE]`; nothing is stored.
            yield sse_data(error_body(reported_error(exc)))
        yield SSE_DONE

    return events()


def _has_output(chunk: dict) -> bool:
    return any(
        (choice.get("delta") or {}).get("content") or (choice.get("delta") or {}).get("tool_calls")
        for choice in chunk.get("choices") or ()
    )


def chat_completion_update(
    *, completion_id: str, metadata: dict[str, str] | None, principal: Principal = ANONYMOUS
) -> ChatCompletion:
    """Replace a stored completion's metadata (OpenAI's only update). A change of the prompt it names moves it to
    that prompt's usage (checked as on create; the labels recorded are those pointing at the version now)."""
    row = chat_completion_get(completion_id=completion_id, principal=principal)
    row.require_allowed(principal, "update")
    metadata = metadata or {}
    fields = ["metadata"]
    named = [(m.get("prompt_id") or "", m.get("prompt_version") or "") for m in (row.metadata or {}, metadata)]
    if named[0] != named[1]:
        for name, value in prompt_use(metadata=metadata, principal=principal).items():
            setattr(row, name, value)
            fields.append(name)
    row.metadata = metadata
    row.save(update_fields=fields, using=router.db_for_write(ChatCompletion))
    return row


def chat_completion_delete(*, completion_id: str, principal: Principal = ANONYMOUS) -> None:
    chat_completions_visible(principal=principal).delete_by_id(
        completion_id, principal=principal, missing=chat_completion_not_found
    )
