"""The one `/v1` HTTP layer, exercised in-process (no server process): every failure OpenAI-shaped, with the
status, `type`, `param` and `code` a client's SDK maps to its exception classes."""

from __future__ import annotations

import pytest


def error_of(response) -> dict:
    return response.json()["error"]


async def test_a_created_prompt_reads_back(v1):
    created = await v1.post("/v1/prompts", json={"prompt": "Hi {{ name }}", "variables": ["name"]})
    assert created.status_code == 200
    fetched = await v1.get(f"/v1/prompts/{created.json()['prompt_id']}")
    assert fetched.json()["prompt"] == "Hi {{ name }}"


async def test_an_unknown_path_is_a_json_404(v1):
    response = await v1.get("/v1/no/such/thing")
    assert response.status_code == 404
    assert error_of(response) == {
        "message": "No route for GET /v1/no/such/thing.",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }


async def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(v1):
    response = await v1.request("PATCH", "/v1/health")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert error_of(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": ["x"]}, "prompt", "invalid_value"),
        ({"prompt": "x", "variables": "name"}, "variables", "invalid_value"),
    ],
)
async def test_request_validation_is_a_400_naming_the_field(v1, body, param, code):
    response = await v1.post("/v1/prompts", json=body)
    assert response.status_code == 400
    assert error_of(response)["param"] == param
    assert error_of(response)["code"] == code


async def test_a_body_that_is_not_json_is_a_400(v1):
    response = await v1.post("/v1/prompts", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["message"] == "The request body is not valid JSON."


async def test_a_service_error_keeps_its_status_type_and_code(v1):
    response = await v1.get("/v1/prompts/pmpt_" + "0" * 48)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert error_of(response)["param"] == "prompt_id"
