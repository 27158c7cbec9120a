"""The Prompts API over HTTP against a live server: llama-stack's wire shapes, and bad input."""

from __future__ import annotations

import httpx
import pytest

SETTINGS = [
    "model",
    "temperature",
    "top_p",
    "max_output_tokens",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "truncation",
]
# llama-stack's fields in its order, then stackadmin's: the commit, labels, the chat template, the model settings.
PROMPT_KEYS = [
    "prompt",
    "version",
    "prompt_id",
    "variables",
    "is_default",
    "created_at",
    "created_by",
    "message",
    "labels",
    "messages",
    *SETTINGS,
]


@pytest.fixture
def api(stackadmin_server):
    with httpx.Client(base_url=stackadmin_server.url + "/v1", timeout=30) as client:
        yield client


def assert_error(response: httpx.Response, status: int, *, param: str | None = None, contains: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert contains in body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]


def test_full_lifecycle_with_llama_stack_shapes(api):
    created = api.post("/prompts", json={"prompt": "Hello {{ name }} from {{ place }}", "variables": ["name", "place"]})
    assert created.status_code == 200
    body = created.json()
    assert list(body) == PROMPT_KEYS
    assert body["version"] == 1
    assert body["is_default"] is True
    assert body["variables"] == ["name", "place"]
    pid = body["prompt_id"]
    assert pid.startswith("pmpt_")
    assert len(pid) == 53

    v2 = api.put(
        f"/prompts/{pid}", json={"prompt": "Hi {{ name }}", "variables": ["name"], "version": 1, "message": "shorter"}
    ).json()
    assert (v2["version"], v2["is_default"], v2["message"]) == (2, True, "shorter")
    v3 = api.put(f"/prompts/{pid}", json={"prompt": "Yo", "version": 2, "set_as_default": False}).json()
    assert (v3["version"], v3["is_default"], v3["variables"]) == (3, False, [])

    assert api.get(f"/prompts/{pid}").json()["version"] == 2
    assert api.get(f"/prompts/{pid}", params={"version": 1}).json()["is_default"] is False
    versions = api.get(f"/prompts/{pid}/versions").json()
    assert list(versions) == ["data"]
    assert [(v["version"], v["is_default"]) for v in versions["data"]] == [(1, False), (2, True), (3, False)]

    moved = api.put(f"/prompts/{pid}/set-default-version", json={"version": 3}).json()
    assert (moved["version"], moved["is_default"], moved["prompt"]) == (3, True, "Yo")
    listed = api.get("/prompts").json()
    assert list(listed) == ["data"]
    mine = [p for p in listed["data"] if p["prompt_id"] == pid]
    assert [(p["version"], p["is_default"]) for p in mine] == [(3, True)]

    deleted = api.delete(f"/prompts/{pid}")
    assert deleted.status_code == 200
    assert deleted.content == b"null"
    assert_error(api.get(f"/prompts/{pid}"), 404, contains="not found")
    assert_error(api.get(f"/prompts/{pid}/versions"), 404)
    assert_error(api.delete(f"/prompts/{pid}"), 404)


def test_paging_parameters_switch_to_a_paged_list(api):
    ids = [api.post("/prompts", json={"prompt": f"paged {i}"}).json()["prompt_id"] for i in range(3)]
    first = api.get("/prompts", params={"limit": 2}).json()
    assert set(first) == {"object", "data", "has_more", "first_id", "last_id"}
    assert first["object"] == "list"
    assert len(first["data"]) == 2
    assert first["has_more"] is True
    assert [p["prompt_id"] for p in first["data"]] == ids[::-1][:2]
    rest = api.get("/prompts", params={"limit": 1, "after": first["last_id"]}).json()
    assert rest["data"][0]["prompt_id"] == ids[0]
    oldest_first = api.get("/prompts", params={"order": "asc"}).json()["data"]
    positions = [[p["prompt_id"] for p in oldest_first].index(i) for i in ids]
    assert positions == sorted(positions)
    assert_error(api.get("/prompts", params={"limit": 0}), 400, param="limit")
    assert_error(api.get("/prompts", params={"order": "sideways"}), 400, param="order")
    assert_error(api.get("/prompts", params={"after": "pmpt_" + "e" * 48}), 400, param="after")


def test_stale_update_is_409_and_changes_nothing(api):
    pid = api.post("/prompts", json={"prompt": "one"}).json()["prompt_id"]
    api.put(f"/prompts/{pid}", json={"prompt": "two", "version": 1}).raise_for_status()
    error = assert_error(api.put(f"/prompts/{pid}", json={"prompt": "lost?", "version": 1}), 409, param="version")
    assert "latest is 2" in error["message"]
    assert [v["prompt"] for v in api.get(f"/prompts/{pid}/versions").json()["data"]] == ["one", "two"]


@pytest.mark.parametrize(
    ("kwargs", "status", "param", "fragment"),
    [
        ({"content": b'{"prompt": "x"', "headers": {"content-type": "application/json"}}, 400, None, "not valid JSON"),
        ({"json": {"variables": ["a"]}}, 400, "prompt", "Missing required parameter"),
        ({"json": {"prompt": 42}}, 400, "prompt", "valid string"),
        ({"json": {"prompt": "x", "variables": "a"}}, 400, "variables", ""),
        ({"json": {"prompt": "x", "variables": [1, 2]}}, 400, "variables[0]", ""),
        ({"json": {"prompt": "x" * 1_000_000}}, 400, "prompt", "over the limit"),
        ({"json": {"prompt": "Hi {{ name"}}, 400, "prompt", "malformed placeholder"),
        ({"json": {"prompt": "Hi {{ name }}"}}, 400, "variables", "undeclared variables: ['name']"),
        ({"json": {"prompt": "Hi", "variables": ["not-an-identifier"]}}, 400, "variables", "not a valid variable"),
        ({"json": ["not", "an", "object"]}, 400, None, ""),
    ],
)
def test_bad_create_input_is_a_clear_4xx_and_writes_nothing(api, kwargs, status, param, fragment):
    before = api.get("/prompts").json()
    assert_error(api.post("/prompts", **kwargs), status, param=param, contains=fragment)
    assert api.get("/prompts").json() == before


def test_bad_ids_and_versions(api):
    pid = api.post("/prompts", json={"prompt": "target"}).json()["prompt_id"]
    assert_error(api.get(f"/prompts/{pid}", params={"version": 0}), 400, param="version")
    assert_error(api.get(f"/prompts/{pid}", params={"version": -3}), 400, param="version")
    assert_error(api.get(f"/prompts/{pid}", params={"version": "two"}), 400, param="version")
    assert_error(api.get(f"/prompts/{pid}", params={"version": 5}), 404, param="version")
    assert_error(api.put(f"/prompts/{pid}/set-default-version", json={"version": 5}), 404)
    assert_error(api.put(f"/prompts/{pid}/set-default-version", json={}), 400, param="version")
    assert_error(api.put(f"/prompts/{pid}", json={"prompt": "x", "version": 0}), 400, param="version")
    assert_error(api.put(f"/prompts/{pid}", json={"prompt": "x"}), 400, param="version")
    assert_error(api.get("/prompts/pmpt_" + "0" * 48), 404, param="prompt_id")
    for bad in ["pmpt_..%2F..%2Fetc", "pmpt_x:1", "%2E%2E", "%00", "pmpt_" + "A" * 48, "x" * 500]:
        response = api.get(f"/prompts/{bad}")
        assert response.status_code in (400, 404), (bad, response.status_code)
        assert_error(response, response.status_code)
    assert api.get(f"/prompts/{pid}").json()["prompt"] == "target"


def test_unicode_and_emoji_round_trip(api):
    text = 'Réponds en 日本語 to {{ name }} 🎉\nwith "quotes" and \\ backslashes'
    created = api.post("/prompts", json={"prompt": text, "variables": ["name"]}).json()
    assert api.get(f"/prompts/{created['prompt_id']}").json()["prompt"] == text


def test_unknown_routes_and_methods_are_openai_shaped(api):
    assert_error(api.get("/nothing-here"), 404)
    assert_error(api.patch("/prompts"), 405)
    assert api.get("/health").json() == {"status": "OK"}
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert "/v1/prompts/{prompt_id}/set-default-version" in spec["paths"]
