"""Reads of stored chat completions, and the models this process can call.

Every read starts from `chat_completions_visible`: the one place where the caller's principal will narrow the rows
once access control arrives, as a queryset filter in the same statement as the page it restricts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from apps.core import metrics
from apps.core.errors import NotFoundError, StackAdminError
from apps.core.paging import Page, check_page_args, list_page, model_page
from apps.core.principal import ANONYMOUS, Principal
from apps.core.text import scrubbed
from apps.inference.config import Model
from apps.inference.models import ChatCompletion
from apps.inference.registry import registry
from apps.inference.schemas import ChatCompletionListQuery, ChatCompletionMessageListQuery
from apps.inference.upstream import Upstream
from apps.tools.selectors import tool_runtime_providers


@dataclass(frozen=True)
class ModelHandle:
    """A model ready to call: the names it goes by and the client of the provider that serves it.

    What the model server answers is `scrubbed` here, whichever provider (or test recorder) served it: text no store
    can hold (NUL, lone surrogates, NaN) is the server's doing, not the caller's, so it is replaced rather than
    refused and an answer already paid for is returned and stored."""

    model_id: str
    provider_id: str
    provider_model_id: str  # the provider's own name for the model: what a chat-completion body sent to it names
    upstream: Upstream
    context_window: int | None = None  # tokens, when the run config gives it (`metadata.context_length`)

    async def chat(self, body: dict) -> dict:
        started, failure = time.perf_counter(), None
        try:
            return scrubbed(await self.upstream.chat(body))
        except Exception as exc:
            failure = exc
            raise
        finally:
            self._measured(started, failure)

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        """Open the stream (errors before the first chunk are raised here); iterate the result for its chunks."""
        started = time.perf_counter()
        try:
            chunks = await self.upstream.chat_stream(body)
        except Exception as exc:
            self._measured(started, exc)
            raise
        return self._scrubbed_chunks(chunks, started)

    async def _scrubbed_chunks(self, chunks: AsyncIterator[dict], started: float) -> AsyncIterator[dict]:
        failure = None
        try:
            async with aclosing(chunks):  # a caller that stops early still closes the model server's stream
                async for chunk in chunks:
                    yield scrubbed(chunk)
        except Exception as exc:
            failure = exc
            raise
        finally:
            self._measured(started, failure)

    def _measured(self, started: float, failure: Exception | None = None) -> None:
        """One model call, for the metrics: its time and, when it failed, its error code."""
        code = None if failure is None else (getattr(failure, "code", None) or type(failure).__name__)
        metrics.upstream_call(self.provider_id, self.model_id, time.perf_counter() - started, code)


async def model_list() -> list[Model]:
    """The models this process can call, as `GET /v1/models` lists them: the registered ones, then those the
    providers' servers list (fetched on first use, then cached for a minute)."""
    return await registry().models()


async def model_get(*, model_id: str) -> Model:
    """A model as `GET /v1/models/{id}` shows it, of any type (an embedding model too); 404 if there is none."""
    return await registry().model(model_id)


async def model_resolve(*, model_id: str) -> ModelHandle:
    """The model named by a request, ready to call; 404 `model_not_found` (or 503 with no provider) if none."""
    model, upstream = await registry().resolve(model_id)
    return ModelHandle(model.model_id, model.provider_id, model.provider_model_id, upstream, model.context_window)


# ------------------------------------------------------------------------------------------ providers
HEALTH_TIMEOUT = 5.0  # seconds a provider's server has to list its models before it is reported unhealthy


async def _health(upstream: Upstream) -> dict:
    """llama-stack's provider health: `OK` when the provider's server lists its models in time, else `Error`."""
    try:
        await asyncio.wait_for(upstream.list_models(), HEALTH_TIMEOUT)
    except TimeoutError:
        return {"status": "Error", "message": f"The model server did not answer within {HEALTH_TIMEOUT:g} seconds."}
    except StackAdminError as exc:
        return {"status": "Error", "message": exc.message}
    return {"status": "OK"}


async def provider_list() -> list[dict]:
    """The enabled inference providers, as llama-stack's `GET /v1/providers` lists them (health checked at once),
    then the configured tool runtimes (web search, MCP)."""
    found = registry()
    providers = list(found.providers.values())
    health = await asyncio.gather(*(_health(found.upstreams[p.provider_id]) for p in providers))
    inference = [provider.as_api(status) for provider, status in zip(providers, health, strict=True)]
    return [*inference, *tool_runtime_providers()]


async def provider_get(*, provider_id: str) -> dict:
    found = registry()
    provider = found.providers.get(provider_id)
    if provider is None:
        for tool_runtime in tool_runtime_providers():
            if tool_runtime["provider_id"] == provider_id:
                return tool_runtime
        raise NotFoundError(
            f"Provider '{provider_id}' not found. Use 'client.providers.list()' to list available providers.",
            param="provider_id",
            code="provider_not_found",
        )
    return provider.as_api(await _health(found.upstreams[provider_id]))


def chat_completion_not_found(completion_id: str) -> NotFoundError:
    return NotFoundError(
        f"Chat completion '{completion_id}' not found. Use 'client.chat.completions.list()' to list stored "
        "chat completions.",
        param="completion_id",
    )


def chat_completions_visible(*, principal: Principal = ANONYMOUS) -> QuerySet[ChatCompletion]:
    """Completions the principal may read under the access policy, filtered in the query itself."""
    return ChatCompletion.objects.visible_to(principal)


def chat_completions_with_prompts(
    *,
    prompt_ids: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    label: str | None = None,
    principal: Principal = ANONYMOUS,
) -> QuerySet[ChatCompletion]:
    """The stored completions made with these prompts that `principal` may read, created in [since, until), made
    while `label` pointed at the version used: what prompt usage counts besides responses."""
    rows = chat_completions_visible(principal=principal).filter(prompt_id__in=prompt_ids)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if label is not None:
        rows = rows.filter(prompt_labels__contains=f"|{label}|")
    return rows


def completion_object(row: ChatCompletion) -> dict:
    return {**row.completion, "input_messages": row.input_messages, "metadata": row.metadata}


def chat_completion_id_taken(*, completion_id: str, principal: Principal = ANONYMOUS) -> bool:
    """Whether another owner's stored completion has this id (whether or not `principal` may read it)."""
    owner = ChatCompletion.owner_fields(principal)["owner_principal"]
    return ChatCompletion.objects.filter(public_id=completion_id).exclude(owner_principal=owner).exists()


def chat_completion_get(*, completion_id: str, principal: Principal = ANONYMOUS) -> ChatCompletion:
    return chat_completions_visible(principal=principal).get_by_id(completion_id, missing=chat_completion_not_found)


def chat_completion_list(*, query: ChatCompletionListQuery, principal: Principal = ANONYMOUS) -> Page:
    return model_page(chat_completions_visible(principal=principal), **query.model_dump())


def _message_object(message: dict, message_id: str) -> dict:
    out = {"id": message_id, **message}
    content = message.get("content")
    if isinstance(content, list):
        # OpenAI's stored-message shape: a parts array moves to `content_parts` (text and image parts).
        out["content"] = None
        out["content_parts"] = [p for p in content if isinstance(p, dict) and p.get("type") in ("text", "image_url")]
    return out


def chat_completion_messages_list(
    *, completion_id: str, query: ChatCompletionMessageListQuery, principal: Principal = ANONYMOUS
) -> Page:
    """The completion's input messages (ids `<completion id>-<index>`), oldest first unless the query says `desc`."""
    check_page_args(query.limit, query.order)
    row = chat_completion_get(completion_id=completion_id, principal=principal)
    messages = [_message_object(m, f"{completion_id}-{i}") for i, m in enumerate(row.input_messages)]
    within = f"chat completion '{completion_id}'"
    return list_page(messages, after=query.after, limit=query.limit, order=query.order, noun="message", within=within)
