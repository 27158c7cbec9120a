"""The client side of an inference provider: one OpenAI-compatible model server reached with the `openai` SDK.

`OpenAIUpstream` speaks plain JSON (the SDK's `cast_to=object`): request and response bodies pass through as dicts,
so fields a server adds (vLLM's, Ollama's, a newer OpenAI's) survive and no pydantic model is built per chunk. Every
failure of the SDK or of the body leaves here as one of `apps.core.errors`: the caller's mistakes that the model
server reports keep their 4xx status; a server that is down, answers garbage or fails is a 502; a timeout is a 504.

The SDK runs on its aiohttp transport (`openai[aiohttp]`, `DefaultAioHttpClient`), which its authors recommend for
concurrency: here it takes about a fifth less CPU per model call than the default httpx2 transport
(`bench/responses_overhead.py` reports both). That transport reports every aiohttp connection error as a timeout,
so `translate()` looks at what aiohttp actually raised before calling anything a timeout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import aiohttp
import httpx2  # the openai SDK's HTTP client: its transport errors can surface mid-stream
import openai
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient

from apps.core.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    StackAdminError,
    UpstreamError,
    UpstreamTimeoutError,
)
from apps.inference.config import InferenceProvider


class Upstream(Protocol):
    provider_id: str

    async def chat(self, body: dict) -> dict: ...

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        """Open the stream (errors before the first chunk are raised here), then iterate its chunks."""
        ...

    async def list_models(self) -> list[dict]: ...

    async def aclose(self) -> None:
        """Close the HTTP connections (on the event loop that opened them)."""
        ...


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def timed_out(exc: Exception) -> bool:
    """Whether a failed call really ran out of time.

    The aiohttp transport maps every `aiohttp.ClientConnectionError` (a refused connection, a dropped one) to a
    `ConnectTimeout`, which the SDK raises as `APITimeoutError`. When aiohttp's own exception is in the chain, it
    decides: only its timeouts (`ServerTimeoutError` and subclasses, all `TimeoutError`s) are timeouts."""
    causes = list(_causes(exc))
    if any(isinstance(c, aiohttp.ClientError) for c in causes):
        return any(isinstance(c, TimeoutError) for c in causes)
    return isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException))


def _transport_cause(exc: Exception) -> BaseException | None:
    """What the transport really raised: aiohttp's exception when there is one, else the first cause."""
    causes = list(_causes(exc))
    found = [c for c in causes if isinstance(c, aiohttp.ClientError)]
    return found[-1] if found else (causes[0] if causes else None)


def _upstream_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return exc.message


class OpenAIUpstream:
    def __init__(self, provider: InferenceProvider) -> None:
        self.provider = provider
        self.provider_id = provider.provider_id
        self.client = AsyncOpenAI(
            base_url=provider.base_url,
            # A local server (vLLM, Ollama) needs no key; the SDK insists on a non-empty one.
            api_key=provider.api_key or "no-key",
            timeout=openai.Timeout(provider.timeout, connect=min(provider.timeout, 10.0)),
            max_retries=provider.max_retries,
            http_client=DefaultAioHttpClient(),
        )

    async def aclose(self) -> None:
        await self.client.close()

    # ------------------------------------------------------------------------------------------ errors
    @property
    def _who(self) -> str:
        return f"The inference provider '{self.provider_id}'"

    def translate(self, exc: Exception) -> StackAdminError:
        if isinstance(exc, StackAdminError):
            return exc
        if isinstance(exc, openai.APIConnectionError):
            return self._connection_error(exc)
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc.status_code, _upstream_message(exc))
        if isinstance(exc, openai.APIError):
            # An error event inside a stream.
            return UpstreamError(f"{self._who} reported an error: {exc.message}", code="upstream_error")
        if isinstance(exc, ValueError):  # json.JSONDecodeError
            return UpstreamError(
                f"{self._who} answered with a body that is not valid JSON.", code="upstream_invalid_response"
            )
        if isinstance(exc, httpx2.HTTPError):  # raised while reading a stream
            if timed_out(exc):
                return UpstreamTimeoutError(f"{self._who} stopped sending for {self.provider.timeout:g} seconds.")
            cause = _transport_cause(exc) or exc
            return UpstreamError(f"{self._who}: {type(cause).__name__}: {cause}", code="upstream_unreachable")
        raise exc

    def _connection_error(self, exc: openai.APIConnectionError) -> StackAdminError:
        if timed_out(exc):
            return UpstreamTimeoutError(f"{self._who} did not answer within {self.provider.timeout:g} seconds.")
        cause = _transport_cause(exc)
        detail = f": {type(cause).__name__}: {cause}" if cause else ""
        return UpstreamError(
            f"{self._who} at {self.provider.base_url} could not be reached or closed the connection{detail}",
            code="upstream_unreachable",
        )

    def _status_error(self, status: int, message: str) -> StackAdminError:
        """The model server's HTTP error: the caller's mistakes keep their 4xx, anything else is the server's."""
        who = self._who
        if status in (401, 403):
            return UpstreamError(
                f"{who} refused stackadmin's credentials (HTTP {status}: {message}); check the provider's "
                "config.api_key in the run config.",
                code="upstream_auth_failed",
            )
        if status == 404:
            return NotFoundError(f"{who} answered 404: {message}", code="model_not_found", param="model")
        if status == 413:
            return PayloadTooLargeError(f"{who} answered 413: {message}")
        if status == 429:
            return RateLimitError(f"{who} is rate limiting requests: {message}", code="rate_limit_exceeded")
        if 400 <= status < 500:
            return BadRequestError(f"{who} rejected the request: {message}", code="upstream_rejected")
        return UpstreamError(f"{who} failed with HTTP {status}: {message}", code="upstream_error")

    def _garbage(self, what: str) -> UpstreamError:
        return UpstreamError(f"{self._who} answered with {what}.", code="upstream_invalid_response")

    # ------------------------------------------------------------------------------------------ calls
    async def chat(self, body: dict) -> dict:
        try:
            data = await self.client.post("/chat/completions", body=body, cast_to=object)
        except Exception as exc:
            raise self.translate(exc) from exc
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            raise self._garbage("something that is not a chat completion")
        return data

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        try:
            stream = await self.client.post(
                "/chat/completions", body=body, cast_to=object, stream=True, stream_cls=AsyncStream[object]
            )
        except Exception as exc:
            raise self.translate(exc) from exc
        return self._chunks(stream)

    async def _chunks(self, stream: AsyncStream) -> AsyncIterator[dict]:
        try:
            async for chunk in stream:
                if not isinstance(chunk, dict):
                    raise self._garbage("a stream chunk that is not a JSON object")
                yield chunk
        except (StackAdminError, GeneratorExit):
            raise
        except Exception as exc:
            raise self.translate(exc) from exc
        finally:
            await stream.close()

    async def list_models(self) -> list[dict]:
        try:
            data = await self.client.get("/models", cast_to=object)
        except Exception as exc:
            raise self.translate(exc) from exc
        models = data.get("data") if isinstance(data, dict) else data
        well_formed = isinstance(models, list) and all(
            isinstance(m, dict) and isinstance(m.get("id"), str) for m in models
        )
        if not well_formed:
            raise self._garbage(f"a /models body that is not a model list: {json.dumps(data)[:200]}")
        return models
