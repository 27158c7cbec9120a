"""/v1 authentication with API keys, and prompts under the default access policy, over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import make_user


def client(server, key: str | None = None, **headers) -> httpx.Client:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=server.url + "/v1", headers=headers, timeout=30)


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    "header",
    [
        None,
        "sk-sa-no-bearer-word-here-xxxxxxxx",
        "Bearer",
        "bearer sk-sa-lowercase-scheme-xx",
        "Basic dXNlcjpwYXNz",
        "Bearer sk-sa-" + "a" * 2000,
        "Bearer sk-sa-unknownkeyunknownkeyunknownkey",
        "Bearer a b",
        "Bearer ' OR 1=1 --",
    ],
)
def test_missing_or_malformed_keys_are_401(auth_server, header):
    headers = {"Authorization": header} if header is not None else {}
    assert_401(client(auth_server, **headers).get("/prompts"))


def test_two_authorization_headers_are_401(auth_server, users):
    headers = httpx.Headers(
        [("Authorization", f"Bearer {users['alice']['key']}"), ("Authorization", f"Bearer {users['bob']['key']}")]
    )
    with httpx.Client(base_url=auth_server.url + "/v1") as c:
        assert_401(c.get("/prompts", headers=headers))


def test_health_and_docs_stay_public(auth_server):
    assert client(auth_server).get("/health").json() == {"status": "OK"}
    assert client(auth_server).get("/openapi.json").status_code == 200


def test_prompts_are_private_to_owner_and_shared_team(auth_server, users):
    alice, bob, carol = (client(auth_server, users[u]["key"]) for u in ("alice", "bob", "carol"))
    created = alice.post("/prompts", json={"prompt": "alice's {{ x }}", "variables": ["x"]}).json()
    pid = created["prompt_id"]
    assert created["created_by"] == "alice"

    # bob: exactly as if it did not exist, on every route
    for response in (
        bob.get(f"/prompts/{pid}"),
        bob.get(f"/prompts/{pid}/versions"),
        bob.get(f"/prompts/{pid}", params={"version": 1}),
        bob.put(f"/prompts/{pid}", json={"prompt": "hijack", "version": 1}),
        bob.put(f"/prompts/{pid}/set-default-version", json={"version": 1}),
        bob.delete(f"/prompts/{pid}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["message"] == f"Prompt '{pid}' not found."
    assert pid not in [p["prompt_id"] for p in bob.get("/prompts").json()["data"]]
    assert pid not in [p["prompt_id"] for p in bob.get("/prompts", params={"limit": 100}).json()["data"]]

    # carol shares team red with alice: the default policy lets her see and change it
    assert carol.get(f"/prompts/{pid}").json()["prompt"] == "alice's {{ x }}"
    v2 = carol.put(f"/prompts/{pid}", json={"prompt": "carol's edit", "version": 1}).json()
    assert v2["version"] == 2
    assert v2["created_by"] == "carol"
    assert pid in [p["prompt_id"] for p in carol.get("/prompts").json()["data"]]
    # ...and the prompt still belongs to alice: bob still cannot see it, alice still can
    assert bob.get(f"/prompts/{pid}").status_code == 404
    assert alice.get(f"/prompts/{pid}").json()["version"] == 2


def test_paging_stays_exact_under_filtering(auth_server, users):
    alice, bob = client(auth_server, users["alice"]["key"]), client(auth_server, users["bob"]["key"])
    mine = [bob.post("/prompts", json={"prompt": f"bob {i}"}).json()["prompt_id"] for i in range(3)]
    for i in range(4):  # interleave invisible prompts
        alice.post("/prompts", json={"prompt": f"alice filler {i}"})
    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = bob.get("/prompts", params=params).json()
        assert len(page["data"]) == 2 or not page["has_more"]
        seen += [p["prompt_id"] for p in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert [p for p in seen if p in mine] == mine[::-1]
    assert all(p in mine for p in seen)


def test_revoked_key_is_401_at_once(auth_server):
    dave = make_user(auth_server, "dave")
    c = client(auth_server, dave["key"])
    assert c.get("/prompts").status_code == 200
    auth_server.manage(
        "shell", "-c", f"from apps.accounts.services import api_key_revoke; api_key_revoke(key_id={dave['id']})"
    )
    assert_401(c.get("/prompts"))


def test_create_api_key_command_prints_a_working_key(auth_server):
    make_user(auth_server, "erin")
    key = auth_server.manage("create_api_key", "erin", "--name", "cli").strip()
    assert key.startswith("sk-sa-")
    assert client(auth_server, key).get("/prompts").status_code == 200
