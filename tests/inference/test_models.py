"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's model objects with llama-stack's metadata, ids with `/`,
through the OpenAI SDK and llama-stack-client 0.7."""

from __future__ import annotations

import subprocess
from pathlib import Path

import openai
import pytest

from tests.support.inference import PROVIDER_TIMEOUT, raw_http, sdk, start_inference_server

from .conftest import RECORDINGS

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def models_server(tmp_path_factory, upstream):
    config = f"""
providers:
  inference:
  - provider_id: fake
    provider_type: remote::openai
    config: {{base_url: "{upstream.url}", api_key: test-key, timeout: {PROVIDER_TIMEOUT}, max_retries: 0}}
registered_resources:
  models:
  - model_id: ollama/llama3.2:3b
    provider_id: fake
    provider_model_id: fake-model
    metadata: {{context_length: 8192}}
  - model_id: nomic-embed
    provider_id: fake
    model_type: embedding
    metadata: {{embedding_dimension: 768}}
"""
    server = start_inference_server(tmp_path_factory.mktemp("models"), RECORDINGS, config)
    yield server
    server.stop()


def test_list_entries_carry_llama_stack_metadata(models_server):
    listed = sdk(models_server).models.list().data
    assert [m.id for m in listed] == ["ollama/llama3.2:3b", "nomic-embed"]
    assert [m.owned_by for m in listed] == ["fake", "fake"]
    assert [m.model_extra["custom_metadata"] for m in listed] == [
        {
            "context_length": 8192,
            "model_type": "llm",
            "provider_id": "fake",
            "provider_resource_id": "fake-model",
        },
        {
            "embedding_dimension": 768,
            "model_type": "embedding",
            "provider_id": "fake",
            "provider_resource_id": "nomic-embed",
        },
    ]


def test_retrieve_a_model_whose_id_has_a_slash(models_server):
    model = sdk(models_server).models.retrieve("ollama/llama3.2:3b")
    assert (model.id, model.object, model.owned_by) == ("ollama/llama3.2:3b", "model", "fake")
    assert model.model_extra["identifier"] == "ollama/llama3.2:3b"
    assert model.model_extra["provider_resource_id"] == "fake-model"
    assert model.model_extra["metadata"] == {"context_length": 8192}


def test_the_slash_may_come_percent_encoded(models_server):
    with raw_http(models_server) as http:
        encoded = http.get("/models/ollama%2Fllama3.2:3b")
    assert encoded.status_code == 200
    assert encoded.json()["id"] == "ollama/llama3.2:3b"


def test_an_embedding_model_is_retrieved_but_not_called(models_server):
    client = sdk(models_server)
    assert client.models.retrieve("nomic-embed").model_extra["model_type"] == "embedding"
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="nomic-embed", input="hi")
    assert "embedding model" in caught.value.message


def test_an_unknown_model_with_a_slash_is_an_openai_404(models_server):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(models_server).models.retrieve("ollama/nope")
    assert caught.value.code == "model_not_found"
    assert caught.value.body["message"].startswith("Model 'ollama/nope' not found.")


def test_llama_stack_client_reads_models(models_server, llama_stack_python):
    result = subprocess.run(
        [llama_stack_python, str(HERE / "llama_stack_client_check.py"), models_server.url, "models"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout
