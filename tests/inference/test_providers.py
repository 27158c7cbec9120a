"""`GET /v1/providers` and `GET /v1/providers/{provider_id}` in llama-stack's shape, secrets redacted, through plain
HTTP and through llama-stack-client 0.7."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.inference import raw_http, start_inference_server
from tests.support.recording import MODE_ENV

from .conftest import RECORDINGS

HERE = Path(__file__).parent

# Two providers whose URLs and keys hold secrets; nothing listens on port 9, so both are unhealthy.
SECRETS = ("sk-live-secret", "hunter2", "query-secret", "second-key")
SECRET_CONFIG = """
providers:
  inference:
  - provider_id: vllm
    provider_type: remote::openai
    config:
      base_url: "http://admin:hunter2@127.0.0.1:9/v1?api-key=query-secret&region=eu"
      api_key: sk-live-secret
      timeout: 2
      max_retries: 0
  - provider_id: plain
    provider_type: remote::openai
    config: {base_url: "http://127.0.0.1:9/v1", api_key: second-key, max_retries: 0, allowed_models: [m1]}
"""


def test_the_enabled_providers_are_listed_with_their_health(inference_server):
    with raw_http(inference_server) as http:
        listed = http.get("/providers")
        one = http.get("/providers/fake")
    assert listed.status_code == 200
    assert listed.json()["data"] == [one.json()]  # the disabled provider of the run config is not there
    assert one.json() == {
        "api": "inference",
        "provider_id": "fake",
        "provider_type": "remote::openai",
        "config": {
            "base_url": one.json()["config"]["base_url"],
            "api_key": "********",
            "timeout": 2.0,
            "max_retries": 0,
            "allowed_models": None,
        },
        "health": {"status": "OK"},
    }
    assert "test-key" not in listed.text


def test_an_unknown_provider_is_an_openai_404(inference_server):
    with raw_http(inference_server) as http:
        missing = http.get("/providers/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {
            "message": "Provider 'nope' not found. Use 'client.providers.list()' to list available providers.",
            "type": "invalid_request_error",
            "param": "provider_id",
            "code": "provider_not_found",
        }
    }


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory):
    # Live mode: health is a real call, which fails (nothing listens); no recording stands in for it.
    server = start_inference_server(
        tmp_path_factory.mktemp("providers"), RECORDINGS, SECRET_CONFIG, env={MODE_ENV: "live"}
    )
    yield server
    server.stop()


def test_secrets_never_leave_the_server(secret_server):
    with raw_http(secret_server) as http:
        listed = http.get("/providers")
        one = http.get("/providers/vllm")
    for secret in SECRETS:
        assert secret not in listed.text
        assert secret not in one.text
    vllm, plain = listed.json()["data"]
    assert vllm["config"]["base_url"] == "http://admin:********@127.0.0.1:9/v1?api-key=********&region=********"
    assert vllm["config"]["api_key"] == "********"
    assert plain["config"]["base_url"] == "http://127.0.0.1:9/v1"
    assert plain["config"]["allowed_models"] == ["m1"]


def test_an_unreachable_provider_is_unhealthy(secret_server):
    with raw_http(secret_server) as http:
        health = http.get("/providers/plain").json()["health"]
    assert health["status"] == "Error"
    assert "could not be reached" in health["message"]


def test_llama_stack_client_reads_providers(inference_server, llama_stack_python):
    result = subprocess.run(
        [llama_stack_python, str(HERE / "llama_stack_client_check.py"), inference_server.url, "providers"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
