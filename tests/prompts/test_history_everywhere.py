"""One prompt changed through every way in on a live server with authentication on and `production` protected:
`/v1` with API keys, the dashboard and the admin, each as a signed-in user. The history says who did what, through
which way in, and records the refused moves; a custom policy that grants `promote` to a role replaces the default
promoters (the owner and the `admin` role)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.accounts import make_people, signed_in
from tests.support.dashboard import activity_rows
from tests.support.live_server import LiveServer

GUARDED = """
server:
  auth: {enabled: true}
prompts:
  protected_labels: [production]
"""
PASSWORD = "pw-history-everywhere"
PEOPLE = {
    "owner": {"password": PASSWORD, "attributes": {"teams": ["red"]}},
    "teammate": {"password": PASSWORD, "attributes": {"teams": ["red"]}},  # updates the owner's prompts
    "ops": {"password": PASSWORD, "attributes": {"teams": ["blue"]}, "superuser": True},  # an operator
    "chief": {"password": PASSWORD, "attributes": {"roles": ["admin"]}, "superuser": True},  # an operator, promotes
}


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory):
    """The server, each person's API key, and clients: `/v1` (by API key), the dashboard and the admin (signed in)."""
    home = tmp_path_factory.mktemp("history-everywhere")
    (home / "run.yaml").write_text(GUARDED)
    server = LiveServer(home, str(home / "run.yaml"))
    keys = make_people(server, PEOPLE)
    clients = {
        "v1": {
            name: httpx.Client(base_url=f"{server.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
            for name, key in keys.items()
        },
        "dashboard": {name: signed_in(server, name, PASSWORD) for name in ("owner", "teammate")},
        "admin": {name: signed_in(server, name, PASSWORD, login="/admin/login/") for name in ("ops", "chief")},
    }
    yield server, keys, clients
    for by_name in clients.values():
        for client in by_name.values():
            client.close()
    server.stop()


def test_the_history_says_who_did_what_and_how(everywhere):
    _, keys, clients = everywhere
    api, web, admin = clients["v1"], clients["dashboard"], clients["admin"]
    pid = api["owner"].post("/prompts", json={"prompt": "v1", "message": "first"}).json()["prompt_id"]
    api["owner"].put(f"/prompts/{pid}", json={"prompt": "v2", "version": 1, "set_as_default": False}).raise_for_status()
    moved = web["teammate"].post(f"/dashboard/{pid}/versions/2/labels/", data={"label": "staging", "message": "try"})
    assert moved.status_code == 302
    refused = web["teammate"].post(f"/dashboard/{pid}/versions/2/labels/", data={"promote": "production"})
    assert refused.status_code == 403
    assert "is a protected label" in refused.text
    change = f"/admin/prompts/prompt/{pid}/change/"
    move = {"action": "move_label", "label": "production", "version": "2", "message": "ship"}
    assert admin["ops"].post(change, data=move).status_code == 302
    assert "is a protected label" in admin["ops"].get(change).text
    assert admin["chief"].post(change, data=move).status_code == 302
    assert web["owner"].post(f"/dashboard/{pid}/versions/2/default/").status_code == 302
    api["teammate"].delete(f"/prompts/{pid}/labels/staging").raise_for_status()
    assert web["owner"].post(f"/dashboard/{pid}/versions/1/delete/").status_code == 302
    assert api["teammate"].put(f"/prompts/{pid}/labels/production", json={"version": 2}).status_code == 403

    history = api["owner"].get(f"/prompts/{pid}/history").json()["data"]
    via = {name: f"api key {key[:12]}…" for name, key in keys.items()}
    assert [
        (e["action"], e["actor"], e["via"], e["label"], e["version"], e["from_version"], e["message"])
        for e in reversed(history)
    ] == [
        ("created", "owner", via["owner"], None, 1, None, "first"),
        ("version_created", "owner", via["owner"], None, 2, None, None),
        ("label_moved", "teammate", "dashboard", "staging", 2, None, "try"),
        ("move_refused", "teammate", "dashboard", "production", 2, None, None),
        ("move_refused", "ops", "admin", "production", 2, None, None),
        ("label_moved", "chief", "admin", "production", 2, None, "ship"),
        ("default_moved", "owner", "dashboard", None, 2, 1, None),
        ("label_removed", "teammate", via["teammate"], "staging", None, 2, None),
        ("version_deleted", "owner", "dashboard", None, 1, None, None),
        ("move_refused", "teammate", via["teammate"], "production", 2, None, None),
    ]
    labels = {e["label"]: e["version"] for e in api["owner"].get(f"/prompts/{pid}/labels").json()["data"]}
    assert labels == {"default": 2, "latest": 2, "production": 2}

    # The same history on the dashboard's Activity page and in the admin's list.
    activity = web["owner"].get("/dashboard/activity/", params={"prompt": pid}).text
    rows = activity_rows(activity)
    assert len(rows) == len(history)
    assert "chief moved production (protected) (new) → v2 · via admin ship" in rows[4]
    assert "teammate was refused moving production (protected) → v2 · via dashboard" in rows[6]
    listed = admin["ops"].get("/admin/prompts/prompthistory/", params={"prompt": pid}).text
    assert re.findall(r'<tr class="history-(\w+)">', listed) == [e["action"] for e in history]


def test_another_team_sees_none_of_it(everywhere):
    _, _, clients = everywhere
    owner = clients["v1"]["owner"]
    pid = owner.post("/prompts", json={"prompt": "red only"}).json()["prompt_id"]
    owner.put(f"/prompts/{pid}/labels/production", json={"version": 1}).raise_for_status()
    # chief has the admin role but no team in common: promote does not make a prompt visible.
    chief = clients["v1"]["chief"]
    assert chief.get(f"/prompts/{pid}/history").status_code == 404
    assert chief.put(f"/prompts/{pid}/labels/production", json={"version": 1}).status_code == 404
    assert all(e["prompt_id"] != pid for e in chief.get("/prompts/history", params={"limit": 100}).json()["data"])
    # In the admin, chief is an operator and sees everything.
    assert pid in clients["admin"]["chief"].get("/admin/prompts/prompthistory/").text


# ------------------------------------------------------------------------------------------ a custom policy
RELEASES = """
server:
  auth:
    enabled: true
    access_policy:
    - permit: {actions: [promote], resource: "prompt::*"}
      when: user with release-manager in roles
      description: only release managers promote, the owner included
    - permit: {actions: [create, read, update, delete]}
      when: user is owner
    - permit: {actions: [read, update]}
      when: user in owners teams
prompts:
  protected_labels: [production]
"""


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    home = tmp_path_factory.mktemp("release-managers")
    (home / "run.yaml").write_text(RELEASES)
    server = LiveServer(home, str(home / "run.yaml"))
    keys = make_people(
        server,
        {
            "alice": {"password": PASSWORD, "attributes": {"teams": ["red"], "roles": ["admin"]}},
            "rita": {"password": PASSWORD, "attributes": {"teams": ["red"], "roles": ["release-manager"]}},
            "bob": {"password": PASSWORD, "attributes": {"teams": ["blue"], "roles": ["release-manager"]}},
        },
    )
    clients = {
        name: httpx.Client(base_url=f"{server.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        for name, key in keys.items()
    }
    yield clients
    for client in clients.values():
        client.close()
    server.stop()


def test_a_policy_can_grant_promote_to_a_role(releases):
    alice, rita, bob = releases["alice"], releases["rita"], releases["bob"]
    pid = alice.post("/prompts", json={"prompt": "one"}).json()["prompt_id"]
    alice.put(f"/prompts/{pid}", json={"prompt": "two", "version": 1, "set_as_default": False}).raise_for_status()
    # The policy names who promotes: not the owner, not the admin role, which the default rules would let.
    refused = alice.put(f"/prompts/{pid}/labels/production", json={"version": 2})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "protected_label"
    assert rita.put(f"/prompts/{pid}/labels/production", json={"version": 2, "message": "release"}).status_code == 200
    # Promote does not open another team's prompt: to bob it does not exist.
    assert bob.put(f"/prompts/{pid}/labels/production", json={"version": 1}).status_code == 404
    # Labels that are not protected follow `update`, which the owner and the team have.
    assert alice.put(f"/prompts/{pid}/labels/staging", json={"version": 2}).status_code == 200
    assert alice.delete(f"/prompts/{pid}/labels/production").status_code == 403
    assert rita.delete(f"/prompts/{pid}/labels/production").status_code == 200
    history = alice.get(f"/prompts/{pid}/history").json()["data"]
    assert [(e["action"], e["actor"], e["label"]) for e in reversed(history)][2:] == [
        ("move_refused", "alice", "production"),
        ("label_moved", "rita", "production"),
        ("label_moved", "alice", "staging"),
        ("move_refused", "alice", "production"),
        ("label_removed", "rita", "production"),
    ]
