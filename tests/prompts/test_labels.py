"""Prompt labels, version delete, protected labels and the prompt history, through `/v1` on live servers."""

from __future__ import annotations

import httpx
import pytest

from tests.prompts.test_api import assert_error
from tests.support.accounts import make_users


@pytest.fixture
def api(stackadmin_server):
    with httpx.Client(base_url=stackadmin_server.url + "/v1", timeout=30) as client:
        yield client


def prompt_with_versions(api, count: int = 3) -> str:
    """A prompt with versions 1..count; the default stays on 1."""
    pid = api.post("/prompts", json={"prompt": "v1"}).json()["prompt_id"]
    for number in range(2, count + 1):
        api.put(f"/prompts/{pid}", json={"prompt": f"v{number}", "version": number - 1, "set_as_default": False})
    return pid


def labels_of(api, pid: str) -> dict[str, int]:
    return {entry["label"]: entry["version"] for entry in api.get(f"/prompts/{pid}/labels").json()["data"]}


def test_labels_point_at_versions_and_move(api):
    pid = prompt_with_versions(api)
    assert labels_of(api, pid) == {"default": 1, "latest": 3}
    moved = api.put(f"/prompts/{pid}/labels/staging", json={"version": 3, "message": "try it"})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "object": "prompt.label",
        "prompt_id": pid,
        "label": "staging",
        "version": 3,
        "protected": False,
        "computed": False,
    }
    api.put(f"/prompts/{pid}/labels/production", json={"version": 2}).raise_for_status()
    assert labels_of(api, pid) == {"default": 1, "latest": 3, "production": 2, "staging": 3}
    # Each version object lists the labels pointing at it.
    versions = {v["version"]: v["labels"] for v in api.get(f"/prompts/{pid}/versions").json()["data"]}
    assert versions == {1: ["default"], 2: ["production"], 3: ["staging"]}
    assert api.get(f"/prompts/{pid}", params={"label": "production"}).json()["prompt"] == "v2"
    assert api.get(f"/prompts/{pid}", params={"label": "latest"}).json()["version"] == 3
    assert api.get(f"/prompts/{pid}", params={"label": "default"}).json()["version"] == 1
    # Moving a label again, then removing it.
    api.put(f"/prompts/{pid}/labels/staging", json={"version": 1}).raise_for_status()
    assert api.get(f"/prompts/{pid}").json()["labels"] == ["default", "staging"]
    removed = api.delete(f"/prompts/{pid}/labels/staging")
    assert removed.json() == {"object": "prompt.label.deleted", "prompt_id": pid, "label": "staging", "deleted": True}
    assert "staging" not in labels_of(api, pid)
    # The default is a label too: moving it is set-default.
    api.put(f"/prompts/{pid}/labels/default", json={"version": 3}).raise_for_status()
    assert api.get(f"/prompts/{pid}").json()["version"] == 3
    listed = [p for p in api.get("/prompts").json()["data"] if p["prompt_id"] == pid]
    assert listed[0]["labels"] == ["default"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param", "contains"),
    [
        ("put", "labels/Prod!", {"version": 1}, 400, "label", "Labels are 1-36 characters"),
        ("put", "labels/latest", {"version": 1}, 400, "label", "'latest' is computed"),
        ("put", "labels/staging", {"version": 9}, 404, "version", "has no version 9"),
        ("put", "labels/staging", {"version": 0}, 400, "version", ""),
        ("delete", "labels/default", None, 409, "label", "cannot be removed"),
        ("delete", "labels/latest", None, 400, "label", "'latest' is computed"),
        ("delete", "labels/nothere", None, 404, "label", "has no label 'nothere'"),
        ("get", "?label=nothere", None, 404, "label", "has no label 'nothere'"),
        ("get", "?label=Bad Label", None, 400, "label", ""),
        ("get", "?label=staging&version=1", None, 400, "label", "not both"),
        ("delete", "versions/1", None, 409, "version", "'default' points at it"),
        ("delete", "versions/9", None, 404, "version", "has no version 9"),
    ],
)
def test_bad_label_requests_change_nothing(api, method, path, body, status, param, contains):
    pid = prompt_with_versions(api, 2)
    history_before = api.get(f"/prompts/{pid}/history").json()["data"]
    url = f"/prompts/{pid}{'' if path.startswith('?') else '/'}{path}"
    response = api.request(method.upper(), url, json=body)
    assert_error(response, status, param=param, contains=contains)
    assert labels_of(api, pid) == {"default": 1, "latest": 2}
    assert api.get(f"/prompts/{pid}/history").json()["data"] == history_before


def test_deleting_a_version_keeps_its_number(api):
    pid = prompt_with_versions(api, 3)
    api.put(f"/prompts/{pid}/labels/beta", json={"version": 2}).raise_for_status()
    busy = api.delete(f"/prompts/{pid}/versions/2")
    assert_error(busy, 409, param="version", contains="'beta' points at it")
    api.delete(f"/prompts/{pid}/labels/beta").raise_for_status()
    deleted = api.delete(f"/prompts/{pid}/versions/2")
    assert deleted.json() == {"object": "prompt.version.deleted", "prompt_id": pid, "version": 2, "deleted": True}
    assert [v["version"] for v in api.get(f"/prompts/{pid}/versions").json()["data"]] == [1, 3]
    assert_error(api.get(f"/prompts/{pid}", params={"version": 2}), 404, param="version", contains="was deleted")
    # The next version is 4: a deleted number is never used again.
    v4 = api.put(f"/prompts/{pid}", json={"prompt": "v4", "version": 3}).json()
    assert v4["version"] == 4
    assert_error(api.put(f"/prompts/{pid}/labels/x", json={"version": 2}), 404, param="version")
    # The latest version can go too; the numbering still goes on from it.
    api.put(f"/prompts/{pid}/labels/default", json={"version": 1}).raise_for_status()
    api.delete(f"/prompts/{pid}/versions/4").raise_for_status()
    assert api.get(f"/prompts/{pid}", params={"label": "latest"}).json()["version"] == 3
    assert api.put(f"/prompts/{pid}", json={"prompt": "v5", "version": 4}).json()["version"] == 5


def test_the_history_records_every_change_once(api):
    pid = prompt_with_versions(api, 2)
    api.put(f"/prompts/{pid}", json={"prompt": "v3", "version": 2, "message": "third"}).raise_for_status()
    api.put(f"/prompts/{pid}/labels/production", json={"version": 2, "message": "ship"}).raise_for_status()
    api.put(f"/prompts/{pid}/labels/production", json={"version": 3}).raise_for_status()
    api.delete(f"/prompts/{pid}/labels/production").raise_for_status()
    api.put(f"/prompts/{pid}/set-default-version", json={"version": 1, "message": "roll back"}).raise_for_status()
    api.delete(f"/prompts/{pid}/versions/2").raise_for_status()
    history = api.get(f"/prompts/{pid}/history").json()
    assert history["object"] == "list"
    assert not history["has_more"]
    shown = [
        (e["action"], e["version"], e["from_version"], e["label"], e["message"]) for e in reversed(history["data"])
    ]
    assert shown == [
        ("created", 1, None, None, None),
        ("version_created", 2, None, None, None),
        ("version_created", 3, None, None, "third"),
        ("default_moved", 3, 1, None, None),
        ("label_moved", 2, None, "production", "ship"),
        ("label_moved", 3, 2, "production", None),
        ("label_removed", None, 3, "production", None),
        ("default_moved", 1, 3, None, "roll back"),
        ("version_deleted", 2, None, None, None),
    ]
    entry = history["data"][0]
    assert set(entry) == {
        "id",
        "object",
        "prompt_id",
        "action",
        "actor",
        "via",
        "created_at",
        "version",
        "from_version",
        "label",
        "message",
    }
    assert entry["actor"] is None  # anonymous: authentication is off
    # Paging, newest first.
    first = api.get(f"/prompts/{pid}/history", params={"limit": 4}).json()
    rest = api.get(f"/prompts/{pid}/history", params={"limit": 10, "after": first["last_id"]}).json()
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in history["data"]]
    assert first["has_more"] and not rest["has_more"]
    # The history outlives the prompt, with its deletion in it.
    api.delete(f"/prompts/{pid}").raise_for_status()
    after = api.get(f"/prompts/{pid}/history").json()["data"]
    assert after[0]["action"] == "deleted"
    assert len(after) == len(history["data"]) + 1
    # The global history, filtered.
    everything = api.get("/prompts/history", params={"limit": 100}).json()["data"]
    assert {e["prompt_id"] for e in everything} >= {pid}
    moves = api.get("/prompts/history", params={"action": "label_moved", "label": "production"}).json()["data"]
    assert [(e["prompt_id"], e["version"]) for e in moves if e["prompt_id"] == pid] == [(pid, 3), (pid, 2)]
    assert api.get("/prompts/history", params={"since": 2**40}).json()["data"] == []


def test_a_history_of_a_prompt_that_never_was_is_a_404(api):
    assert_error(api.get(f"/prompts/pmpt_{'0' * 48}/history"), 404, param="prompt_id")
    assert_error(api.get("/prompts/history", params={"action": "renamed"}), 400, param="action")


# ------------------------------------------------------------------------------------------ protected labels
PROTECTED = """
server:
  auth: {enabled: true}
prompts:
  protected_labels: [production, default]
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    from tests.support.live_server import LiveServer

    home = tmp_path_factory.mktemp("protected-labels")
    (home / "run.yaml").write_text(PROTECTED)
    server = LiveServer(home, str(home / "run.yaml"))
    users = make_users(
        server,
        {"owner": {"teams": ["red"]}, "teammate": {"teams": ["red"]}, "boss": {"teams": ["blue"], "roles": ["admin"]}},
    )
    clients = {
        name: httpx.Client(base_url=server.url + "/v1", headers={"Authorization": f"Bearer {made['key']}"}, timeout=30)
        for name, made in users.items()
    }
    yield clients
    for client in clients.values():
        client.close()
    server.stop()


def test_protected_labels_need_promote(guarded):
    owner, teammate, boss = guarded["owner"], guarded["teammate"], guarded["boss"]
    pid = owner.post("/prompts", json={"prompt": "one"}).json()["prompt_id"]
    owner.put(f"/prompts/{pid}", json={"prompt": "two", "version": 1, "set_as_default": False}).raise_for_status()
    # The teammate may update the prompt (the default policy shares it with team red) but not promote it.
    teammate.put(f"/prompts/{pid}/labels/staging", json={"version": 2}).raise_for_status()
    refused = teammate.put(f"/prompts/{pid}/labels/production", json={"version": 2})
    error = assert_error(refused, 403, param="label", contains="protected label")
    assert error["code"] == "protected_label"
    assert_error(teammate.put(f"/prompts/{pid}/set-default-version", json={"version": 2}), 403, param="label")
    # A new version that would become the default is refused as a whole; one that does not is fine.
    assert_error(teammate.put(f"/prompts/{pid}", json={"prompt": "three", "version": 2}), 403, param="label")
    teammate.put(f"/prompts/{pid}", json={"prompt": "three", "version": 2, "set_as_default": False}).raise_for_status()
    # The owner may promote. An admin may promote what they can see; this prompt shares nothing with team blue,
    # so to the boss it does not exist.
    owner.put(f"/prompts/{pid}/labels/production", json={"version": 2}).raise_for_status()
    assert boss.get(f"/prompts/{pid}").status_code == 404
    labels = {e["label"]: e for e in owner.get(f"/prompts/{pid}/labels").json()["data"]}
    assert labels["production"]["version"] == 2
    assert labels["production"]["protected"] and labels["default"]["protected"]
    assert not labels["staging"]["protected"]
    history = owner.get(f"/prompts/{pid}/history").json()["data"]
    refusals = [(e["actor"], e["label"], e["version"]) for e in history if e["action"] == "move_refused"]
    assert refusals == [("teammate", "default", 3), ("teammate", "default", 2), ("teammate", "production", 2)]
    assert {e["via"] for e in history if e["actor"] == "teammate"} == {
        next(e["via"] for e in history if e["actor"] == "teammate")
    }
    assert next(e["via"] for e in history if e["actor"] == "teammate").startswith("api key sk-sa-")
    # Another team's user sees none of this history.
    assert boss.get(f"/prompts/{pid}/history").status_code == 404
    assert all(e["prompt_id"] != pid for e in boss.get("/prompts/history").json()["data"])


def test_an_admin_may_promote_a_prompt_they_can_update(guarded):
    boss = guarded["boss"]
    pid = boss.post("/prompts", json={"prompt": "mine"}).json()["prompt_id"]
    boss.put(f"/prompts/{pid}/labels/production", json={"version": 1}).raise_for_status()
