"""Every `/v1` operation's real output matches the response schema it declares in the OpenAPI document.

Operations render their bodies through `apps.core.http` and ninja does not apply the `response=` schemas (see the
README's "Response schemas"), so this test is what keeps the schemas honest: it calls each operation on a live
server (its model provider is the deterministic fake model server, called live) and validates the JSON it got
against the operation's declared schema. A new operation without a call here fails the coverage check.
"""

from __future__ import annotations

import httpx
import pytest

from stackadmin.api import api
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import provider_yaml, start_inference_server
from tests.support.live_server import free_port


def declared_operations() -> dict[tuple[str, str], object]:
    """(method, path template) -> the operation's 200 response model (None when it declares no body)."""
    operations = {}
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    operations[(method, f"/v1{prefix}{path}")] = operation.response_models.get(200)
    return operations


class ContractClient:
    """Calls operations by their path template and checks each 200 body against the declared schema."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.operations = declared_operations()
        self.checked: set[tuple[str, str]] = set()

    def call(self, method: str, template: str, *, expect_json: bool = True, **kwargs) -> httpx.Response:
        path = template.replace("{path:", "{").format(**kwargs.pop("ids", {}))
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == 200, (method, path, response.text[:300])
        model = self.operations[(method, template)]
        if expect_json:
            body = response.json()
            if model is not None:
                model.model_validate({"response": body})
        self.checked.add((method, template))
        return response


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    fake = FakeUpstream(free_port()).start()
    server = start_inference_server(
        tmp_path_factory.mktemp("contract"),
        tmp_path_factory.mktemp("no-recordings"),
        provider_yaml(fake.url),
        env={"STACKADMIN_TEST_INFERENCE_MODE": "live"},
    )
    yield ContractClient(server.url)
    server.stop()
    fake.stop()


def test_prompt_operations_match_their_schemas(contract):
    c = contract
    created = c.call("POST", "/v1/prompts", json={"prompt": "Hi {{ name }}", "variables": ["name"]}).json()
    ids = {"prompt_id": created["prompt_id"]}
    c.call("GET", "/v1/prompts")
    c.call("GET", "/v1/prompts", params={"limit": 5})
    c.call("GET", "/v1/prompts/{prompt_id}", ids=ids)
    c.call(
        "PUT",
        "/v1/prompts/{prompt_id}",
        ids=ids,
        json={"prompt": "Hello {{ name }}", "version": 1, "variables": ["name"]},
    )
    c.call("GET", "/v1/prompts/{prompt_id}/versions", ids=ids)
    c.call("PUT", "/v1/prompts/{prompt_id}/set-default-version", ids=ids, json={"version": 1})
    chat = {
        "messages": [{"role": "system", "content": "Be {{ tone }}."}, {"role": "user", "content": "Hi"}],
        "variables": ["tone"],
        "model": "fake-model",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "reasoning": {"effort": "low"},
    }
    c.call("PUT", "/v1/prompts/{prompt_id}", ids=ids, json={**chat, "version": 2, "set_as_default": False})
    labelled = {**ids, "label": "production"}
    c.call("PUT", "/v1/prompts/{prompt_id}/labels/{label}", ids=labelled, json={"version": 3, "message": "go"})
    c.call("GET", "/v1/prompts/{prompt_id}/labels", ids=ids)
    c.call("GET", "/v1/prompts/{prompt_id}", ids=ids, params={"label": "production"})
    c.call("DELETE", "/v1/prompts/{prompt_id}/labels/{label}", ids=labelled)
    c.call("DELETE", "/v1/prompts/{prompt_id}/versions/{version}", ids={**ids, "version": 2})
    c.call("GET", "/v1/prompts/{prompt_id}/history", ids=ids, params={"limit": 3})
    c.call("GET", "/v1/prompts/history", params={"action": "label_moved"})
    c.call("DELETE", "/v1/prompts/{prompt_id}", ids=ids)


def test_conversation_operations_match_their_schemas(contract):
    c = contract
    message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    conversation = c.call("POST", "/v1/conversations", json={"items": [message], "metadata": {"k": "v"}}).json()
    ids = {"conversation_id": conversation["id"]}
    c.call("GET", "/v1/conversations")
    c.call("GET", "/v1/conversations/{conversation_id}", ids=ids)
    c.call("POST", "/v1/conversations/{conversation_id}", ids=ids, json={"metadata": {"k": "w"}})
    added = c.call("POST", "/v1/conversations/{conversation_id}/items", ids=ids, json={"items": [message]}).json()
    c.call("GET", "/v1/conversations/{conversation_id}/items", ids=ids)
    item_ids = {**ids, "item_id": added["data"][0]["id"]}
    c.call("GET", "/v1/conversations/{conversation_id}/items/{item_id}", ids=item_ids)
    c.call("DELETE", "/v1/conversations/{conversation_id}/items/{item_id}", ids=item_ids)
    c.call("DELETE", "/v1/conversations/{conversation_id}", ids=ids)


def test_file_operations_match_their_schemas(contract):
    c = contract
    uploaded = c.call(
        "POST", "/v1/files", files={"file": ("notes.txt", b"hello")}, data={"purpose": "assistants"}
    ).json()
    ids = {"file_id": uploaded["id"]}
    c.call("GET", "/v1/files")
    c.call("GET", "/v1/files/{file_id}", ids=ids)
    content = c.call("GET", "/v1/files/{file_id}/content", ids=ids, expect_json=False)
    assert content.content == b"hello"
    c.call("DELETE", "/v1/files/{file_id}", ids=ids)


def test_model_and_chat_completion_operations_match_their_schemas(contract):
    c = contract
    c.call("GET", "/v1/models")
    c.call("GET", "/v1/models/{path:model_id}", ids={"model_id": "fake-model"})
    completion = c.call(
        "POST", "/v1/chat/completions", json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    ).json()
    ids = {"completion_id": completion["id"]}
    c.call("GET", "/v1/chat/completions")
    c.call("GET", "/v1/chat/completions/{completion_id}", ids=ids)
    c.call("POST", "/v1/chat/completions/{completion_id}", ids=ids, json={"metadata": {"k": "v"}})
    c.call("GET", "/v1/chat/completions/{completion_id}/messages", ids=ids)
    c.call("DELETE", "/v1/chat/completions/{completion_id}", ids=ids)


def test_provider_operations_match_their_schemas(contract):
    c = contract
    (provider,) = c.call("GET", "/v1/providers").json()["data"]
    c.call("GET", "/v1/providers/{provider_id}", ids={"provider_id": provider["provider_id"]})


def test_response_operations_match_their_schemas(contract):
    c = contract
    response = c.call("POST", "/v1/responses", json={"model": "fake-model", "input": "hello"}).json()
    ids = {"response_id": response["id"]}
    c.call("GET", "/v1/responses")
    c.call("GET", "/v1/responses/{response_id}", ids=ids)
    c.call("GET", "/v1/responses/{response_id}/input_items", ids=ids)
    c.call("DELETE", "/v1/responses/{response_id}", ids=ids)
    prompt = c.call("POST", "/v1/prompts", json={"prompt": "Be brief."}).json()
    c.call(
        "POST", "/v1/responses", json={"model": "fake-model", "input": "hello", "prompt": {"id": prompt["prompt_id"]}}
    )
    usage = c.call("GET", "/v1/prompts/{prompt_id}/usage", ids={"prompt_id": prompt["prompt_id"]}).json()
    assert usage["versions"][0]["requests"] == 1


def test_background_response_operations_match_their_schemas(contract):
    c = contract
    body = {"model": "fake-model", "input": "slowly #drip:1", "background": True}
    response = c.call("POST", "/v1/responses", json=body).json()
    c.call("POST", "/v1/responses/{response_id}/cancel", ids={"response_id": response["id"]})


def test_compaction_matches_its_schema(contract):
    contract.call("POST", "/v1/responses/compact", json={"model": "fake-model", "input": "hello"})


def test_health_answers(contract):
    contract.call("GET", "/v1/health")
    contract.call("GET", "/v1/health/ready")


def test_every_operation_was_checked(contract):
    # Runs last in this module (pytest keeps file order): every other test has added what it checked.
    missing = sorted(set(contract.operations) - contract.checked)
    assert missing == []
