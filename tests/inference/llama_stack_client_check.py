"""Run by the inference tests under Python >= 3.12 with llama-stack-client installed (it needs 3.12).

`python llama_stack_client_check.py URL CHECK`: runs one check (a function below) against the server at URL; exits
non-zero on any mismatch and prints "ok" when all held.
"""

import sys

import llama_stack_client
from llama_stack_client import LlamaStackClient
from llama_stack_client.types.model import Model
from llama_stack_client.types.model_retrieve_response import ModelRetrieveResponse
from llama_stack_client.types.shared.provider_info import ProviderInfo

client = LlamaStackClient(base_url=sys.argv[1], max_retries=0)


def providers() -> None:
    listed = client.providers.list()
    assert [type(p) for p in listed] == [ProviderInfo], listed
    for provider in listed:
        ProviderInfo.model_validate(provider.to_dict())  # every required field, validated
    assert [(p.api, p.provider_id, p.provider_type) for p in listed] == [("inference", "fake", "remote::openai")]
    assert listed[0].health == {"status": "OK"}, listed
    assert listed[0].config["api_key"] == "********", listed
    one = client.providers.retrieve("fake")
    assert one == listed[0], one
    try:
        client.providers.retrieve("nope")
        raise AssertionError("an unknown provider must be a 404")
    except llama_stack_client.NotFoundError as exc:
        assert "not found" in str(exc), exc


def models() -> None:
    listed = client.models.list()
    assert [type(m) for m in listed] == [Model, Model], listed
    for model in listed:
        Model.model_validate(model.to_dict())
    llm, embedding = listed
    assert (llm.identifier, llm.provider_id, llm.provider_resource_id, llm.model_type) == (
        "ollama/llama3.2:3b",
        "fake",
        "fake-model",
        "llm",
    ), llm
    assert llm.metadata == {"context_length": 8192}, llm
    assert (embedding.identifier, embedding.model_type) == ("nomic-embed", "embedding"), embedding
    assert embedding.metadata == {"embedding_dimension": 768}, embedding
    one = client.models.retrieve("ollama/llama3.2:3b")  # sent as ollama%2Fllama3.2:3b
    assert type(one) is ModelRetrieveResponse, one
    ModelRetrieveResponse.model_validate(one.to_dict())
    assert (one.identifier, one.provider_id, one.provider_resource_id, one.api_model_type) == (
        "ollama/llama3.2:3b",
        "fake",
        "fake-model",
        "llm",
    ), one
    assert one.metadata == {"context_length": 8192}, one
    assert client.models.retrieve("nomic-embed").api_model_type == "embedding"
    try:
        client.models.retrieve("ollama/nope")
        raise AssertionError("an unknown model must be a 404")
    except llama_stack_client.NotFoundError as exc:
        assert "not found" in str(exc), exc


CHECKS = {"providers": providers, "models": models}

if __name__ == "__main__":
    CHECKS[sys.argv[2]]()
    print("ok")
