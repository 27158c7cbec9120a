"""A custom access policy from the run config, enforced on every API of a live server.

Teams read but only owners change; nobody but an admin deletes; project members may also update conversations
and prompts (a `regex:` resource rule); contractors never see their team's files or responses (a `regex:` forbid).
What the caller may read but not change is a 403 (`PermissionDeniedError`); what they may not read is a 404,
exactly as if it did not exist. A policy that does not parse stops `stackadmin run` with the rule's index and text.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys

import httpx
import openai
import pytest

from tests.support.accounts import MODEL, message
from tests.support.inference import provider_yaml, recordings, start_inference_server
from tests.support.paths import ROOT
from tests.support.postgres import postgres_database, run_config

RECORDINGS = recordings("accounts")

POLICY = """
server:
  auth:
    enabled: true
    access_policy:
    - forbid: {actions: [read, update, delete], resource: "regex:(file|response)::"}
      when: [user with contractor in roles, user is not owner]
      description: contractors see their team's conversations, never its files or responses
    - forbid: {actions: [delete]}
      unless: user with admin in roles
    - permit: {actions: [create, read, update, delete]}
      when: user is owner
    - permit: {actions: [read, update], resource: "regex:(conversation|prompt)::"}
      when: user in owners projects
    - permit: {actions: [read]}
      when: user in owners teams
"""
USERS = {
    "alice": {"teams": ["red"], "roles": ["admin"], "projects": ["apollo"]},
    "carol": {"teams": ["red"]},  # reads alice's things, changes none
    "bob": {"teams": ["blue"]},  # sees none
    "erin": {"teams": ["red"], "roles": ["contractor"]},  # team red, minus files and responses
    "frank": {"projects": ["apollo"]},  # conversations and prompts: read and update
}


def postgres_storage(database: str) -> str:
    """Every SQL store on PostgreSQL, where the policy's filters become PostgreSQL's SQL (regexes included)."""
    return run_config(database, stores=("conversations", "files", "responses", "inference"))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory, upstream):
    with contextlib.ExitStack() as stack:
        storage = postgres_storage(stack.enter_context(postgres_database())) if request.param == "postgres" else ""
        running = start_inference_server(
            tmp_path_factory.mktemp("custom-policy"), RECORDINGS, POLICY + provider_yaml(upstream.url, storage=storage)
        )
        stack.callback(running.stop)
        yield running


@pytest.fixture
def alices(sdk, http) -> dict:
    """A fresh set of alice's resources (some tests are allowed to change them)."""
    alice = sdk["alice"]
    prompt = http["alice"].post("/prompts", json={"prompt": "alice's {{ topic }}", "variables": ["topic"]})
    conversation = alice.conversations.create(items=[message("alice's first words"), message("alice's second words")])
    return {
        "prompt": prompt.json()["prompt_id"],
        "conversation": conversation.id,
        "item": alice.conversations.items.list(conversation.id, order="asc").data[0].id,
        "file": alice.files.create(file=("alice.txt", b"alice's bytes"), purpose="assistants").id,
        "response": alice.responses.create(model=MODEL, input="alice asks about access").id,
        "chat": alice.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "alice chats"}]).id,
    }


def sdk_status(call) -> int:
    """200 when the SDK call works, else its error's status (403 and 404 as the SDK's own classes)."""
    try:
        call()
    except openai.APIStatusError as exc:
        expected_class = {403: openai.PermissionDeniedError, 404: openai.NotFoundError}.get(exc.status_code)
        assert expected_class is None or isinstance(exc, expected_class)
        assert "alice" not in json.dumps(exc.body)  # says what was refused, not whose it is
        return exc.status_code
    return 200


def http_status(response: httpx.Response) -> int:
    assert "alice" not in response.text or response.status_code == 200
    return response.status_code


def routes(client: openai.OpenAI, web: httpx.Client, ids: dict) -> dict[str, object]:
    """Every route on alice's resources, by name: calls returning the HTTP status."""
    conv, item = ids["conversation"], ids["item"]
    prompt = f"/prompts/{ids['prompt']}"
    calls = {
        "conversation.read": lambda: client.conversations.retrieve(conv),
        "conversation.items": lambda: client.conversations.items.list(conv),
        "conversation.item": lambda: client.conversations.items.retrieve(item, conversation_id=conv),
        "conversation.update": lambda: client.conversations.update(conv, metadata={"touched": "yes"}),
        "conversation.add_items": lambda: client.conversations.items.create(conv, items=[message("hello")]),
        "conversation.delete_item": lambda: client.conversations.items.delete(item, conversation_id=conv),
        "conversation.delete": lambda: client.conversations.delete(conv),
        "file.read": lambda: client.files.retrieve(ids["file"]),
        "file.content": lambda: client.files.content(ids["file"]),
        "file.delete": lambda: client.files.delete(ids["file"]),
        "response.read": lambda: client.responses.retrieve(ids["response"]),
        "response.input_items": lambda: client.responses.input_items.list(ids["response"]),
        "response.delete": lambda: client.responses.delete(ids["response"]),
        "chat.read": lambda: client.chat.completions.retrieve(ids["chat"]),
        "chat.messages": lambda: client.chat.completions.messages.list(ids["chat"]),
        "chat.update": lambda: client.chat.completions.update(ids["chat"], metadata={"touched": "yes"}),
        "chat.delete": lambda: client.chat.completions.delete(ids["chat"]),
    }
    statuses = {name: (lambda call=call: sdk_status(call)) for name, call in calls.items()}
    return {
        **statuses,
        "prompt.read": lambda: http_status(web.get(prompt)),
        "prompt.versions": lambda: http_status(web.get(f"{prompt}/versions")),
        "prompt.update": lambda: http_status(web.put(prompt, json={"prompt": "changed", "version": 1})),
        "prompt.set_default": lambda: http_status(web.put(f"{prompt}/set-default-version", json={"version": 1})),
        "prompt.delete": lambda: http_status(web.delete(prompt)),
    }


READS = {
    "conversation.read",
    "conversation.items",
    "conversation.item",
    "file.read",
    "file.content",
    "response.read",
    "response.input_items",
    "chat.read",
    "chat.messages",
    "prompt.read",
    "prompt.versions",
}
UPDATES = {
    "conversation.update",
    "conversation.add_items",
    "conversation.delete_item",
    "chat.update",
    "prompt.update",
    "prompt.set_default",
}


def expected(user: str, route: str) -> int:
    """What the policy above answers `user` on a route over alice's resources."""
    kind = route.split(".")[0]
    if user == "bob":
        return 404
    if user == "erin" and kind in ("file", "response"):
        return 404
    if user == "frank" and kind not in ("conversation", "prompt"):
        return 404
    if route in READS:
        return 200
    if route in UPDATES:
        return 200 if user == "frank" else 403
    return 403  # only an admin deletes


@pytest.mark.parametrize("user", ["carol", "bob", "erin", "frank"])
def test_every_route_answers_as_the_policy_says(sdk, http, alices, user):
    got = {name: status() for name, status in routes(sdk[user], http[user], alices).items()}
    assert got == {name: expected(user, name) for name in got}
    # The refused calls changed nothing: everything is still there for alice.
    still = {name: status() for name, status in routes(sdk["alice"], http["alice"], alices).items() if name in READS}
    if user == "frank":  # who was allowed to delete an item of the conversation
        del still["conversation.item"]
    assert set(still.values()) == {200}, still


@pytest.mark.parametrize("user", ["carol", "bob", "erin", "frank"])
def test_lists_show_what_may_be_read(http, alices, user):
    web = http[user]
    listed = {
        "conversation": [c["id"] for c in web.get("/conversations").json()["data"]],
        "file": [f["id"] for f in web.get("/files").json()["data"]],
        "response": [r["id"] for r in web.get("/responses").json()["data"]],
        "chat": [c["id"] for c in web.get("/chat/completions").json()["data"]],
        "prompt": [p["prompt_id"] for p in web.get("/prompts").json()["data"]],
    }
    for kind, ids in listed.items():
        assert (alices[kind] in ids) == (expected(user, f"{kind}.read") == 200), (user, kind)


def test_use_by_reference_follows_the_policy(sdk, http, alices):
    carol, erin = sdk["carol"], sdk["erin"]
    # carol may read alice's response and build on it: the new response is hers.
    following = carol.responses.create(model=MODEL, input="carol follows up", previous_response_id=alices["response"])
    assert carol.responses.retrieve(following.id).previous_response_id == alices["response"]
    # erin may not read it: exactly as if it did not exist.
    missing = "resp_" + secrets.token_hex(24)
    for response_id in (alices["response"], missing):
        with pytest.raises(openai.BadRequestError) as info:
            erin.responses.create(model=MODEL, input="erin continues", previous_response_id=response_id)
        assert info.value.body["message"] == f"Previous response with id '{response_id}' not found."
    # carol may read alice's conversation but not add to it: the turn is refused and nothing is kept.
    with pytest.raises(openai.PermissionDeniedError):
        carol.responses.create(model=MODEL, input="carol joins alice", conversation=alices["conversation"])
    assert len(carol.conversations.items.list(alices["conversation"]).data) == 2
    inputs = [json.dumps(r["input"]) for r in http["carol"].get("/responses", params={"limit": 100}).json()["data"]]
    assert not [i for i in inputs if "carol joins alice" in i]


def test_only_an_admin_deletes_even_their_own(sdk, http):
    carol, alice = sdk["carol"], sdk["alice"]
    mine = carol.conversations.create()
    carol.conversations.update(mine.id, metadata={"mine": "yes"})  # the owner may change it...
    with pytest.raises(openai.PermissionDeniedError):
        carol.conversations.delete(mine.id)  # ...but not delete it
    prompt = http["carol"].post("/prompts", json={"prompt": "carol's"}).json()["prompt_id"]
    assert http["carol"].delete(f"/prompts/{prompt}").status_code == 403
    assert alice.conversations.delete(alice.conversations.create().id).deleted
    prompt = http["alice"].post("/prompts", json={"prompt": "alice's"}).json()["prompt_id"]
    assert http["alice"].delete(f"/prompts/{prompt}").status_code == 200


# ------------------------------------------------------------------------------------------ start-up
@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("{permit: {actions: [read]}, when: user is admin}", "unknown condition 'user is admin'"),
        ("{permit: {actions: [read]}, when: user in owner teams}", "unknown condition 'user in owner teams'"),
        ("{permit: {actions: [read]}, unless: [user is owner, resource is mine]}", "unknown condition 'resource is"),
        ('{permit: {actions: [read]}, when: "user in owners te\'ams"}', "is not an attribute name"),
        ("{permit: {actions: [read]}, when: user is owner, unless: user is owner}", "not both"),
        ('{permit: {actions: [read], resource: "regex:("}}', "invalid regex"),
        ("{permit: {actions: [publish]}}", "'actions' must be"),
    ],
)
def test_a_policy_that_does_not_parse_stops_the_server_naming_the_rule(tmp_path, rule, fragment):
    home = tmp_path / "home"
    config = tmp_path / "run.yaml"
    config.write_text(
        "server:\n  auth:\n    enabled: true\n    access_policy:\n"
        "    - {permit: {actions: [read]}, when: user is owner}\n"
        f"    - {rule}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "stackadmin.cli", "run", "--port", "1", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "STACKADMIN_HOME": str(home)},
    )
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("stackadmin: error: server.auth.access_policy[1] {"), line
    assert fragment in line, line
    assert not home.exists()
