"""Run by the inference tests under Python >= 3.12 with llama-stack-client installed (it needs 3.12).

`python llama_stack_client_check.py URL CHECK`: runs one check (a function below) against the server at URL; exits
non-zero on any mismatch and prints "ok" when all held.
"""

import sys

import llama_stack_client
from llama_stack_client import LlamaStackClient
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


CHECKS = {"providers": providers}

if __name__ == "__main__":
    CHECKS[sys.argv[2]]()
    print("ok")
