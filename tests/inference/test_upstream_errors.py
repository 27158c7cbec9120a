"""What a model server's HTTP error becomes for stackadmin's caller: the caller's mistakes keep their 4xx, the
server's own trouble is a 502. (Refused connections, timeouts and garbage are exercised over HTTP elsewhere.)"""

from __future__ import annotations

import httpx2
import openai
import pytest

from apps.core.errors import UpstreamError
from apps.inference.config import InferenceProvider
from apps.inference.upstream import OpenAIUpstream


@pytest.fixture
async def upstream():
    opened = OpenAIUpstream(InferenceProvider("vllm", "remote::openai", "http://127.0.0.1:9/v1", "k"))
    yield opened
    await opened.aclose()


def status_error(status: int, body: object) -> openai.APIStatusError:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    return openai.APIStatusError("sdk message", response=httpx2.Response(status, request=request), body=body)


@pytest.mark.parametrize(
    ("status", "expected_status", "code"),
    [
        (401, 502, "upstream_auth_failed"),
        (403, 502, "upstream_auth_failed"),
        (404, 404, "model_not_found"),
        (413, 413, "payload_too_large"),
        (429, 429, "rate_limit_exceeded"),
        (422, 400, "upstream_rejected"),
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
    ],
)
async def test_status_becomes(upstream, status, expected_status, code):
    error = upstream.translate(status_error(status, {"error": {"message": "bad"}}))
    assert error.status_code == expected_status
    assert error.code == code
    assert "The inference provider 'vllm'" in error.message
    assert "bad" in error.message


async def test_a_missing_model_names_the_param(upstream):
    assert upstream.translate(status_error(404, {"error": "no such model"})).param == "model"


async def test_the_message_falls_back_to_the_sdk_s(upstream):
    error = upstream.translate(status_error(500, "<html>"))
    assert error.message == "The inference provider 'vllm' failed with HTTP 500: sdk message"


async def test_an_error_event_in_a_stream_is_the_server_s(upstream):
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    error = upstream.translate(openai.APIError("overloaded", request, body=None))
    assert isinstance(error, UpstreamError)
    assert error.message == "The inference provider 'vllm' reported an error: overloaded"


async def test_anything_else_is_raised_as_it_is(upstream):
    with pytest.raises(KeyError):
        upstream.translate(KeyError("x"))
