"""The client side of an inference provider: one OpenAI-compatible model server reached with the `openai` SDK.

`OpenAIUpstream` speaks plain JSON (the SDK's `cast_to=object`): request and response bodies pass through as dicts,
so fields a server adds (vLLM's, Ollama's, a newer OpenAI's) survive and no pydantic model is built per chunk. Every
failure of the SDK or of the body leaves here as one of `stackadmin.errors`: the caller's mistakes that the model
server reports keep their 4xx status; a server that is down, answers garbage or fails is a 502; a timeout is a 504.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Protocol

import httpx2  # the openai SDK's HTTP client: its transport errors can surface mid-stream
import openai
from openai import AsyncOpenAI, AsyncStream

from apps.storage.config import InferenceProvider
from stackadmin.errors import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    StackAdminError,
    UpstreamError,
    UpstreamTimeoutError,
)


class Upstream(Protocol):
    provider_id: str

    async def chat(self, body: dict) -> dict: ...

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        """Open the stream (errors before the first chunk are raised here), then iterate its chunks."""
        ...

    async def list_models(self) -> list[dict]: ...


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
        )

    # ------------------------------------------------------------------------------------------ errors
    def translate(self, exc: Exception) -> StackAdminError:
        who = f"The inference provider '{self.provider_id}'"
        if isinstance(exc, StackAdminError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return UpstreamTimeoutError(f"{who} did not answer within {self.provider.timeout:g} seconds.")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = f": {type(cause).__name__}: {cause}" if cause else ""
            return UpstreamError(
                f"{who} at {self.provider.base_url} could not be reached or closed the connection{detail}",
                code="upstream_unreachable",
            )
        if isinstance(exc, openai.APIStatusError):
            status, message = exc.status_code, _upstream_message(exc)
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
        if isinstance(exc, openai.APIError):
            # An error event inside a stream.
            return UpstreamError(f"{who} reported an error: {exc.message}", code="upstream_error")
        if isinstance(exc, ValueError):  # json.JSONDecodeError
            return UpstreamError(
                f"{who} answered with a body that is not valid JSON.", code="upstream_invalid_response"
            )
        if isinstance(exc, httpx2.HTTPError):
            return UpstreamError(f"{who}: {type(exc).__name__}: {exc}", code="upstream_unreachable")
        raise exc

    def _garbage(self, what: str) -> UpstreamError:
        return UpstreamError(
            f"The inference provider '{self.provider_id}' answered with {what}.", code="upstream_invalid_response"
        )

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
