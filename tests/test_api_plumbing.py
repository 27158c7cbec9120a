"""/v1 plumbing every app shares: OpenAI-shaped errors for oversized bodies, unknown paths and methods."""

from __future__ import annotations

import httpx

LIMIT = 32 * 1024 * 1024


def test_an_announced_oversized_body_is_refused_before_it_is_read(stackadmin_server):
    body = b'{"prompt": "' + b"x" * (LIMIT + 10) + b'"}'
    for path in ("/v1/prompts", "/v1/conversations", "/v1/responses"):
        r = httpx.post(
            stackadmin_server.url + path, content=body, headers={"content-type": "application/json"}, timeout=60
        )
        assert r.status_code == 413, (path, r.text[:200])
        assert r.json()["error"]["code"] == "payload_too_large"


def test_a_streamed_oversized_body_is_413_not_500(stackadmin_server):
    def chunks():
        yield b'{"prompt": "'
        for _ in range(33):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    r = httpx.post(
        stackadmin_server.url + "/v1/prompts",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_unknown_path_and_method_are_json(stackadmin_server):
    r = httpx.get(stackadmin_server.url + "/v1/no/such/thing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = httpx.request("PATCH", stackadmin_server.url + "/v1/health")
    assert r.status_code == 405
    assert "allowed" in r.json()["error"]["message"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_an_empty_json_body_is_named_as_such(stackadmin_server):
    r = httpx.post(stackadmin_server.url + "/v1/prompts", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "The request body is empty: send a JSON object."
