"""Every /v1 route under authentication and the default access policy, end to end.

A real `stackadmin run` server with a model provider (calls replay from tests/accounts/recordings/, see
tests/support/inference.py), the OpenAI SDK and llama-stack-client as the users' clients. alice (team red),
bob (team blue), carol (teams red and green: she shares red with alice). alice's resources work for her; for bob
they are 404 on every route, absent from every list, and using them by reference fails exactly as a made-up id
does (same status, same body apart from the id); carol may do everything the default policy grants through the
shared team. Lists are filtered before paging. Attribute values holding quotes, SQL or LIKE wildcards neither
break a query nor grant anything.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.accounts import AUTH_CONFIG, MODEL, make_users, message
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import provider_yaml, recordings, start_inference_server
from tests.support.live_server import free_port
from tests.support.recording import MODE_ENV

HERE = Path(__file__).resolve().parent
RECORDINGS = recordings("accounts")

# Team names an attacker would pick: SQL LIKE wildcards, quotes and SQL, JSON punctuation, case and look-alike
# variants of "red", and strings shaped like the stored attribute tokens.
WEIRD_VALUES = [
    "%",
    "_",
    "___",
    "r%",
    "%red%",
    "' OR 1=1 --",
    "red' OR '1'='1",
    '"red"',
    'red"',
    '["red"]',
    "\\",
    "red\\",
    "RED",
    "r\u0435d",  # Cyrillic e
    "红",
    "\U0001f534",
    "|7465616d73=726564|",
    "7465616d73=726564",
    "red|",
]
WEIRD = {f"weird{i}": {"teams": [value]} for i, value in enumerate(WEIRD_VALUES)}
USERS = {
    "alice": {"teams": ["red"]},
    "bob": {"teams": ["blue"]},
    "carol": {"teams": ["red", "green"]},
    "pager": {"teams": ["paging"]},
    "noise": {"teams": ["noise"]},
    "revoked": {},
    "roles_red": {"roles": ["red"]},  # the same value under another attribute shares nothing
    "ALICE": {},  # owner names compare exactly
    "%": {},
    **WEIRD,
    "mirror": {"teams": WEIRD_VALUES},  # shares one value with each weird user
}


def missing_id(kind: str) -> str:
    """A well-formed id that nothing has."""
    return {
        "conversation": "conv_" + secrets.token_hex(24),
        "item": "msg_" + secrets.token_hex(24),
        "file": "file-" + secrets.token_hex(16),
        "response": "resp_" + secrets.token_hex(24),
        "chat": "chatcmpl-" + secrets.token_hex(12),
        "prompt": "pmpt_" + secrets.token_hex(24),
    }[kind]


def text_of(item) -> str:
    """A message item's text: content is kept as given (a string) or is a list of parts."""
    return item.content if isinstance(item.content, str) else item.content[0].text


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    running = start_inference_server(
        tmp_path_factory.mktemp("access-everywhere"), RECORDINGS, AUTH_CONFIG + provider_yaml(upstream.url)
    )
    yield running
    running.stop()


def create_everything(sdk: openai.OpenAI, http: httpx.Client, tag: str = "") -> dict:
    """One of each resource, owned by the client's user."""
    text = "Answer briefly about {{ topic }}." + tag
    prompt = http.post("/prompts", json={"prompt": text, "variables": ["topic"]})
    assert prompt.status_code == 200, prompt.text
    conversation = sdk.conversations.create(
        items=[message("alice's first words"), message("alice's second words")], metadata={"owner": "alice"}
    )
    items = sdk.conversations.items.list(conversation.id, order="asc").data
    file = sdk.files.create(file=("alice-secrets.txt", b"alice's secret bytes"), purpose="assistants")
    response = sdk.responses.create(model=MODEL, input="alice asks about access", metadata={"owner": "alice"})
    chat = sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "alice chats"}], metadata={"owner": "alice"}
    )
    return {
        "prompt": prompt.json()["prompt_id"],
        "conversation": conversation.id,
        "item": items[0].id,
        "file": file.id,
        "response": response.id,
        "chat": chat.id,
    }


@pytest.fixture(scope="module")
def alices(sdk, http) -> dict:
    return create_everything(sdk["alice"], http["alice"])


def listed_ids(http: httpx.Client, path: str, key: str = "id", **params) -> list[str]:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return [row[key] for row in response.json()["data"]]


def every_list(http: httpx.Client) -> set[str]:
    """The ids of everything the user can list, across every API."""
    return {
        *listed_ids(http, "/prompts", key="prompt_id"),
        *listed_ids(http, "/conversations", limit=100),
        *listed_ids(http, "/files"),
        *listed_ids(http, "/responses", limit=100),
        *listed_ids(http, "/chat/completions", limit=100),
    }


def error_of(call) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        call()
    return info.value


def assert_like_missing(call, theirs: str, missing: str, status: int) -> openai.APIStatusError:
    """`call(id)` fails for someone else's resource exactly as for an id nothing has: same class, status and body
    once the id itself is blanked out."""
    for_theirs, for_missing = error_of(lambda: call(theirs)), error_of(lambda: call(missing))
    assert for_theirs.status_code == status, for_theirs.body
    assert (type(for_theirs), for_theirs.status_code) == (type(for_missing), for_missing.status_code)
    blanked = json.dumps(for_theirs.body).replace(theirs, "<id>")
    assert blanked == json.dumps(for_missing.body).replace(missing, "<id>")
    return for_theirs


# ------------------------------------------------------------------------------------------ the owner
def test_alice_uses_every_route_on_her_own_resources(sdk, http, alices):
    alice, web = sdk["alice"], http["alice"]
    assert alices["prompt"] in listed_ids(web, "/prompts", key="prompt_id")
    assert web.get(f"/prompts/{alices['prompt']}").json()["created_by"] == "alice"
    assert [v["version"] for v in web.get(f"/prompts/{alices['prompt']}/versions").json()["data"]] == [1]

    conv = alices["conversation"]
    assert alice.conversations.retrieve(conv).metadata == {"owner": "alice"}
    assert conv in listed_ids(web, "/conversations", limit=100)
    assert alice.conversations.items.retrieve(alices["item"], conversation_id=conv).id == alices["item"]
    added = alice.conversations.items.create(conv, items=[message("alice adds")]).data[0]
    assert alice.conversations.items.list(conv, limit=1).data[0].id == added.id
    alice.conversations.items.delete(added.id, conversation_id=conv)
    assert alice.conversations.update(conv, metadata={"owner": "alice", "v": "2"}).metadata["v"] == "2"

    assert alice.files.retrieve(alices["file"]).filename == "alice-secrets.txt"
    assert alice.files.content(alices["file"]).read() == b"alice's secret bytes"
    assert alices["file"] in [f.id for f in alice.files.list()]

    response = alice.responses.retrieve(alices["response"])
    assert response.output_text == "Hello! You said: alice asks about access"
    assert [i.content[0].text for i in alice.responses.input_items.list(alices["response"]).data] == [
        "alice asks about access"
    ]
    assert alices["response"] in listed_ids(web, "/responses", limit=100)

    chat = alice.chat.completions.retrieve(alices["chat"])
    assert chat.choices[0].message.content == "Hello! You said: alice chats"
    assert [m.content for m in alice.chat.completions.messages.list(alices["chat"]).data] == ["alice chats"]
    assert alice.chat.completions.update(alices["chat"], metadata={"owner": "alice", "v": "2"}).metadata["v"] == "2"
    assert alices["chat"] in [c.id for c in alice.chat.completions.list(limit=100)]

    assert {m.id for m in alice.models.list()} >= {"fake-model", "alias-model"}


def test_alice_deletes_her_own_resources(sdk, http):
    alice, web = sdk["alice"], http["alice"]
    mine = create_everything(alice, web, tag=" (to delete)")
    assert web.delete(f"/prompts/{mine['prompt']}").status_code == 200
    assert alice.conversations.delete(mine["conversation"]).deleted
    assert alice.files.delete(mine["file"]).deleted
    alice.responses.delete(mine["response"])
    assert alice.chat.completions.delete(mine["chat"]).deleted
    assert not set(mine.values()) & every_list(web)
    assert web.get(f"/prompts/{mine['prompt']}").status_code == 404
    for call in (
        lambda: alice.conversations.retrieve(mine["conversation"]),
        lambda: alice.files.retrieve(mine["file"]),
        lambda: alice.responses.retrieve(mine["response"]),
        lambda: alice.chat.completions.retrieve(mine["chat"]),
    ):
        with pytest.raises(openai.NotFoundError):
            call()


# ------------------------------------------------------------------------------------------ another team
def test_bob_gets_404_on_every_route_exactly_as_for_a_missing_id(sdk, alices):
    bob = sdk["bob"]
    item = alices["item"]
    routes = [
        ("conversation", lambda c: bob.conversations.retrieve(c)),
        ("conversation", lambda c: bob.conversations.update(c, metadata={"owner": "bob"})),
        ("conversation", lambda c: bob.conversations.delete(c)),
        ("conversation", lambda c: bob.conversations.items.create(c, items=[message("bob was here")])),
        ("conversation", lambda c: bob.conversations.items.list(c)),
        ("conversation", lambda c: bob.conversations.items.list(c, after=item, limit=1)),
        ("conversation", lambda c: bob.conversations.items.retrieve(item, conversation_id=c)),
        ("conversation", lambda c: bob.conversations.items.delete(item, conversation_id=c)),
        ("file", lambda f: bob.files.retrieve(f)),
        ("file", lambda f: bob.files.content(f)),
        ("file", lambda f: bob.files.delete(f)),
        ("response", lambda r: bob.responses.retrieve(r)),
        ("response", lambda r: bob.responses.input_items.list(r)),
        ("response", lambda r: bob.responses.delete(r)),
        ("chat", lambda c: bob.chat.completions.retrieve(c)),
        ("chat", lambda c: bob.chat.completions.messages.list(c)),
        ("chat", lambda c: bob.chat.completions.update(c, metadata={"owner": "bob"})),
        ("chat", lambda c: bob.chat.completions.delete(c)),
    ]
    for kind, call in routes:
        error = assert_like_missing(call, alices[kind], missing_id(kind), 404)
        assert isinstance(error, openai.NotFoundError)
    # An item of alice's conversation, asked for under bob's own conversation, is simply not there either.
    own = bob.conversations.create().id

    def in_own(item_id: str):
        return bob.conversations.items.retrieve(item_id, conversation_id=own)

    assert_like_missing(in_own, item, missing_id("item"), 404)


def test_bob_gets_404_on_every_prompt_route(http, alices):
    bob = http["bob"]
    pid, missing = alices["prompt"], missing_id("prompt")
    for method, path, body in [
        ("GET", "/prompts/{}", None),
        ("GET", "/prompts/{}?version=1", None),
        ("GET", "/prompts/{}/versions", None),
        ("PUT", "/prompts/{}", {"prompt": "bob was here", "version": 1}),
        ("PUT", "/prompts/{}/set-default-version", {"version": 1}),
        ("DELETE", "/prompts/{}", None),
    ]:
        theirs = bob.request(method, path.format(pid), json=body)
        nobodys = bob.request(method, path.format(missing), json=body)
        assert theirs.status_code == nobodys.status_code == 404, theirs.text
        assert theirs.text.replace(pid, "<id>") == nobodys.text.replace(missing, "<id>")


def test_bob_cannot_use_alices_resources_by_reference(sdk, http, alices):
    bob = sdk["bob"]
    create = bob.responses.create
    bobs_before = listed_ids(http["bob"], "/responses", limit=100)
    items_before = listed_ids(http["alice"], f"/conversations/{alices['conversation']}/items", limit=100)
    by_previous = assert_like_missing(
        lambda r: create(model=MODEL, input="bob continues", previous_response_id=r),
        alices["response"],
        missing_id("response"),
        400,
    )
    assert by_previous.code == "previous_response_not_found"
    for conversation in (lambda c: c, lambda c: {"id": c}):
        assert_like_missing(
            lambda c, conversation=conversation: create(model=MODEL, input="bob joins", conversation=conversation(c)),
            alices["conversation"],
            missing_id("conversation"),
            404,
        )
    for prompt in (
        lambda p: {"id": p, "variables": {"topic": "x"}},
        lambda p: {"id": p, "version": "1", "variables": {"topic": "x"}},
        lambda p: {"id": p, "version": "7"},
    ):
        by_prompt = assert_like_missing(
            lambda p, prompt=prompt: create(model=MODEL, input="bob uses it", prompt=prompt(p)),
            alices["prompt"],
            missing_id("prompt"),
            400,
        )
        assert by_prompt.code == "prompt_not_found"
    file_part = {"type": "input_file", "file_id": ""}
    assert_like_missing(
        lambda f: create(model=MODEL, input=[{"role": "user", "content": [{**file_part, "file_id": f}]}]),
        alices["file"],
        missing_id("file"),
        400,
    )
    # Bob's own prompt cannot reach alice's file through a variable either.
    bobs_prompt = http["bob"].post(
        "/prompts",
        json={"messages": [{"role": "user", "content": "Read {{ doc }}"}], "variables": ["doc"], "model": MODEL},
    )
    by_variable = assert_like_missing(
        lambda f: create(
            prompt={"id": bobs_prompt.json()["prompt_id"], "variables": {"doc": {**file_part, "file_id": f}}}
        ),
        alices["file"],
        missing_id("file"),
        400,
    )
    assert by_variable.body["param"] == "prompt.variables.doc"
    # Nothing was stored by these attempts, and alice's conversation did not grow.
    assert listed_ids(http["bob"], "/responses", limit=100) == bobs_before
    assert listed_ids(http["alice"], f"/conversations/{alices['conversation']}/items", limit=100) == items_before


def test_bobs_lists_hold_nothing_of_alices_and_her_ids_are_unknown_cursors(http, alices):
    bob = http["bob"]
    assert not set(alices.values()) & every_list(bob)
    for path, kind in [
        ("/conversations", "conversation"),
        ("/files", "file"),
        ("/responses", "response"),
        ("/chat/completions", "chat"),
        ("/prompts", "prompt"),
    ]:
        theirs, missing = alices[kind], missing_id(kind)
        for_theirs = bob.get(path, params={"after": theirs, "limit": 5})
        for_missing = bob.get(path, params={"after": missing, "limit": 5})
        assert for_theirs.status_code == for_missing.status_code == 400, for_theirs.text
        assert for_theirs.text.replace(theirs, "<id>") == for_missing.text.replace(missing, "<id>")


# ------------------------------------------------------------------------------------------ a shared team
def test_carol_shares_team_red_and_may_do_what_alice_may(sdk, http, alices):
    carol, web = sdk["carol"], http["carol"]
    assert set(alices.values()) - {alices["item"]} <= every_list(web)
    assert web.get(f"/prompts/{alices['prompt']}").status_code == 200
    conv = alices["conversation"]
    assert carol.conversations.retrieve(conv).id == conv
    assert carol.conversations.items.retrieve(alices["item"], conversation_id=conv).id == alices["item"]
    assert carol.files.content(alices["file"]).read() == b"alice's secret bytes"
    assert carol.responses.retrieve(alices["response"]).id == alices["response"]
    assert carol.responses.input_items.list(alices["response"]).data
    assert carol.chat.completions.retrieve(alices["chat"]).id == alices["chat"]
    assert [m.content for m in carol.chat.completions.messages.list(alices["chat"]).data] == ["alice chats"]

    # Use by reference, as the caller: her own response, continuing alice's.
    following = carol.responses.create(model=MODEL, input="carol follows up", previous_response_id=alices["response"])
    assert following.output_text == "Hello! You said: carol follows up"
    with_prompt = carol.responses.create(
        model=MODEL, input="carol asks", prompt={"id": alices["prompt"], "variables": {"topic": "access"}}
    )
    assert with_prompt.prompt.id == alices["prompt"]
    joined = carol.responses.create(model=MODEL, input="carol joins alice", conversation=alices["conversation"])
    assert joined.status == "completed"
    texts = [text_of(i) for i in carol.conversations.items.list(alices["conversation"], order="asc").data]
    assert texts[-2:] == ["carol joins alice", "Hello! You said: carol joins alice"]
    # Those responses are carol's, so alice (team red too) sees them and bob does not.
    assert following.id in listed_ids(http["alice"], "/responses", limit=100)
    assert following.id not in every_list(http["bob"])

    # Changes by carol keep alice the owner.
    carol.conversations.update(alices["conversation"], metadata={"edited_by": "carol"})
    carol.chat.completions.update(alices["chat"], metadata={"edited_by": "carol"})
    edit = {"prompt": "carol's {{ topic }}", "variables": ["topic"], "version": 1}
    assert web.put(f"/prompts/{alices['prompt']}", json=edit).status_code == 200
    assert sdk["alice"].conversations.retrieve(alices["conversation"]).metadata == {"edited_by": "carol"}
    with pytest.raises(openai.NotFoundError):
        sdk["bob"].conversations.retrieve(alices["conversation"])

    # ...and she may delete alice's things.
    doomed = create_everything(sdk["alice"], http["alice"], tag=" (carol deletes)")
    assert web.delete(f"/prompts/{doomed['prompt']}").status_code == 200
    carol.conversations.items.delete(doomed["item"], conversation_id=doomed["conversation"])
    assert carol.conversations.delete(doomed["conversation"]).deleted
    assert carol.files.delete(doomed["file"]).deleted
    carol.responses.delete(doomed["response"])
    assert carol.chat.completions.delete(doomed["chat"]).deleted
    assert not set(doomed.values()) & every_list(http["alice"])


def test_roles_red_and_differently_cased_owner_names_share_nothing(http, alices):
    for name in ("roles_red", "ALICE", "%"):
        assert not set(alices.values()) & every_list(http[name]), name
        assert http[name].get(f"/conversations/{alices['conversation']}").status_code == 404


# ------------------------------------------------------------------------------------------ paging
def _create_for_paging(kind: str, sdk: openai.OpenAI, http: httpx.Client, n: int, conversation: str) -> str:
    if kind == "conversations":
        return sdk.conversations.create(metadata={"n": str(n)}).id
    if kind == "items":
        return sdk.conversations.items.create(conversation, items=[message(f"item {n}")]).data[0].id
    if kind == "files":
        return sdk.files.create(file=(f"page-{n}.txt", b"page"), purpose="assistants").id
    if kind == "responses":
        return sdk.responses.create(model=MODEL, input="page me").id
    if kind == "chat":
        return sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "page me"}]).id
    created = http.post("/prompts", json={"prompt": f"page me {n}"})
    assert created.status_code == 200, created.text
    return created.json()["prompt_id"]


LIST_PATHS = {
    "conversations": "/conversations",
    "items": "/conversations/{}/items",
    "files": "/files",
    "responses": "/responses",
    "chat": "/chat/completions",
    "prompts": "/prompts",
}


def walk(http: httpx.Client, path: str, *, limit: int, order: str) -> list[str]:
    """Every id of a list, page by page; each page is full while `has_more`, and `has_more` is exact."""
    key = "prompt_id" if path == "/prompts" else "id"
    seen: list[str] = []
    after = None
    while True:
        params = {"limit": limit, "order": order, **({"after": after} if after else {})}
        response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids = [row[key] for row in page["data"]]
        assert ids, f"an empty page after {after}"
        assert len(ids) == limit or not page["has_more"], (len(ids), page["has_more"])
        assert page["last_id"] == ids[-1]
        seen += ids
        if not page["has_more"]:
            return seen
        after = page["last_id"]


@pytest.mark.parametrize("kind", list(LIST_PATHS))
def test_pages_stay_full_and_exact_under_filtering(sdk, http, kind):
    """pager's rows sit between twice as many of noise's, which pager may not see."""
    pager, noise = sdk["pager"], sdk["noise"]
    conversations = {
        "pager": pager.conversations.create().id if kind == "items" else "",
        "noise": noise.conversations.create().id if kind == "items" else "",
    }
    mine = []
    for n in range(6):
        _create_for_paging(kind, noise, http["noise"], 2 * n, conversations["noise"])
        mine.append(_create_for_paging(kind, pager, http["pager"], n, conversations["pager"]))
        _create_for_paging(kind, noise, http["noise"], 2 * n + 1, conversations["noise"])
    path = LIST_PATHS[kind].format(conversations["pager"])
    for limit in (2, 4):
        assert walk(http["pager"], path, limit=limit, order="asc") == mine
        assert walk(http["pager"], path, limit=limit, order="desc") == mine[::-1]


# ------------------------------------------------------------------------------------------ hostile attributes
def test_hostile_attribute_values_neither_break_queries_nor_grant_access(sdk, http, alices):
    """A team named `%`, `_` or `' OR 1=1 --` sees what it owns and what its team-mate owns, nothing else."""
    mirrors = {
        "conversation": sdk["mirror"].conversations.create().id,
        "file": sdk["mirror"].files.create(file=("mirror.txt", b"m"), purpose="assistants").id,
        "prompt": http["mirror"].post("/prompts", json={"prompt": "mirror"}).json()["prompt_id"],
    }
    own = {name: sdk[name].conversations.create(metadata={"team": spec["teams"][0]}).id for name, spec in WEIRD.items()}
    for name, spec in WEIRD.items():
        web = http[name]
        visible = every_list(web)
        assert not set(alices.values()) & visible, spec
        assert set(mirrors.values()) <= visible, spec
        assert set(listed_ids(web, "/conversations", limit=100)) == {own[name], mirrors["conversation"]}, spec
        assert web.get(f"/conversations/{alices['conversation']}").status_code == 404, spec
        assert web.get(f"/files/{alices['file']}/content").status_code == 404, spec
        assert web.get(f"/prompts/{alices['prompt']}").status_code == 404, spec
    assert set(listed_ids(http["mirror"], "/conversations", limit=100)) == {*own.values(), mirrors["conversation"]}
    assert not set(alices.values()) & every_list(http["mirror"])


# ------------------------------------------------------------------------------------------ other clients
def test_llama_stack_client_under_auth(server, keys, llama_stack_python):
    result = subprocess.run(
        [
            llama_stack_python,
            str(HERE / "llama_stack_client_auth_check.py"),
            server.url,
            keys["alice"],
            keys["bob"],
            keys["carol"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout


def test_models_need_a_key_and_are_the_same_for_everyone(server, sdk):
    assert [m.id for m in sdk["alice"].models.list()] == [m.id for m in sdk["bob"].models.list()]
    anonymous = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-sa-wrong-wrong-wrong-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.models.list()


# ------------------------------------------------------------------------------------------ bad keys
def test_a_revoked_key_is_401_on_every_api_at_once(server, sdk, keys):
    client = sdk["revoked"]
    conversation = client.conversations.create().id
    server.manage(
        "shell",
        "-c",
        "from apps.accounts.models import APIKey; from apps.accounts.services import api_key_revoke; "
        "[api_key_revoke(key_id=k.pk) for k in APIKey.objects.filter(user__username='revoked')]",
    )
    for call in (
        lambda: client.models.list(),
        lambda: client.conversations.retrieve(conversation),
        lambda: client.files.list(),
        lambda: client.responses.create(model=MODEL, input="still here?"),
        lambda: client.chat.completions.list(),
    ):
        error = error_of(call)
        assert isinstance(error, openai.AuthenticationError)
        assert error.body["code"] == "invalid_api_key"
        assert conversation not in json.dumps(error.body)


@pytest.mark.parametrize(
    "header",
    [
        "{key}",  # the word Bearer missing
        "Token {key}",
        "Bearer  {key}",
        "Bearer {key} {key}",
        "Bearer {key}, Bearer {key}",
        "Bearer {key},{key}",
        "Bearer " + "A" * 190,
        "Bearer " + "A" * 8000,
        "Bearer {key}" + "x" * 300,
        "Bearer sk-sa-é-not-ascii-not-ascii",
        "Bearer sk-sa-%27%20OR%201%3D1%20--",
    ],
)
def test_malformed_authorization_is_401_and_echoes_nothing(server, keys, header):
    value = header.format(key=keys["alice"])
    with httpx.Client(base_url=server.url + "/v1", timeout=30) as client:
        response = client.get("/conversations", headers={"Authorization": value.encode("utf-8")})
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid_api_key"
    assert keys["alice"] not in response.text
    assert "alice" not in response.text


# ------------------------------------------------------------------------------------------ the admin
@pytest.fixture
def operator(server):
    """The first start's `admin` account, signed in to /admin/ (operators are not API users)."""
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
        page = browser.get("/admin/login/")
        browser.post(
            "/admin/login/?next=/admin/",
            data={"username": "admin", "password": server.admin_password, "csrfmiddlewaretoken": csrf_of(page)},
        )
        yield browser


def csrf_of(page: httpx.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def admin_pk(operator: httpx.Client, changelist: str, public_id: str) -> str:
    listing = operator.get(changelist, params={"q": public_id})
    assert listing.status_code == 200
    assert public_id in listing.text
    return re.search(rf'href="{changelist}(\d+)/change/', listing.text).group(1)


def test_operators_see_and_manage_everything_in_the_admin(operator, sdk, http, alices):
    bobs = create_everything(sdk["bob"], http["bob"], tag=" (bob's)")
    for changelist, kind in [
        ("/admin/conversations/conversation/", "conversation"),
        ("/admin/files/file/", "file"),
        ("/admin/responses/storedresponse/", "response"),
        ("/admin/inference/chatcompletion/", "chat"),
    ]:
        for owned in (alices, bobs):
            pk = admin_pk(operator, changelist, owned[kind])
            assert operator.get(f"{changelist}{pk}/change/").status_code == 200
    prompts = operator.get("/admin/prompts/prompt/").text
    assert alices["prompt"] in prompts
    assert bobs["prompt"] in prompts
    for owned, content in ((alices, b"alice's secret bytes"), (bobs, b"alice's secret bytes")):
        download = operator.get(f"/admin/files/file/{owned['file']}/download/")
        assert download.status_code == 200
        assert download.content == content

    # Deleting someone's conversation item, conversation and file goes through the services, as the operator.
    def bobs_item(item_id: str):
        return sdk["bob"].conversations.items.retrieve(item_id, conversation_id=bobs["conversation"])

    for changelist, kind, gone in [
        ("/admin/conversations/conversationitem/", "item", bobs_item),
        ("/admin/conversations/conversation/", "conversation", lambda i: sdk["bob"].conversations.retrieve(i)),
        ("/admin/files/file/", "file", lambda i: sdk["bob"].files.retrieve(i)),
    ]:
        url = f"{changelist}{admin_pk(operator, changelist, bobs[kind])}/delete/"
        confirm = operator.get(url)
        done = operator.post(url, data={"post": "yes", "csrfmiddlewaretoken": csrf_of(confirm)})
        assert done.status_code == 200, done.text[-2000:]
        assert "deleted successfully" in done.text, done.text[-2000:]
        with pytest.raises(openai.NotFoundError):
            gone(bobs[kind])


# ------------------------------------------------------------------------------------------ reused upstream ids
@pytest.fixture(scope="module")
def reusing(tmp_path_factory) -> dict[str, openai.OpenAI]:
    """alice, bob and carol (who shares a team with alice) on a server that talks to the fake model server
    directly (a replay would hand out fresh ids), where `#id:NAME` makes every completion's id `chatcmpl-NAME`, as
    some model servers do."""
    fake = FakeUpstream(free_port()).start()
    running = start_inference_server(
        tmp_path_factory.mktemp("reused-ids"),
        RECORDINGS,
        AUTH_CONFIG + provider_yaml(fake.url),
        env={MODE_ENV: "live"},
    )
    keys = make_users(running, {name: USERS[name] for name in ("alice", "bob", "carol")})
    yield {
        name: openai.OpenAI(base_url=running.url + "/v1", api_key=made["key"], max_retries=0, timeout=30)
        for name, made in keys.items()
    }
    running.stop()
    fake.stop()


def ask_with_id(client: openai.OpenAI, text: str, *, by: str, stream: bool) -> tuple[str, str]:
    """(the id the caller was told, the reply it got): from the body, or from every chunk of a stream."""
    created = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], metadata={"by": by}, stream=stream
    )
    if not stream:
        return created.id, created.choices[0].message.content
    chunks = list(created)
    (told,) = {chunk.id for chunk in chunks}
    return told, "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_reused_upstream_id_gets_a_fresh_id_and_never_touches_another_users_completion(reusing, stream):
    alice, bob, carol = reusing["alice"], reusing["bob"], reusing["carol"]
    cue = f"#id:reused-{'stream' if stream else 'json'}"
    upstream_id = f"chatcmpl-reused-{'stream' if stream else 'json'}"
    mine, _ = ask_with_id(alice, f"alice's private question {cue}", by="a", stream=False)
    assert mine == upstream_id  # the first to come keeps the model server's id

    theirs, reply = ask_with_id(bob, f"bob's private question {cue}", by="b", stream=stream)
    assert theirs != upstream_id  # another owner's completion has it: bob's gets an id of its own
    assert theirs.startswith("chatcmpl-")
    assert reply == f"Hello! You said: bob's private question {cue}"
    stored = bob.chat.completions.retrieve(theirs)
    assert stored.metadata == {"by": "b"}
    assert stored.choices[0].message.content == reply
    assert [m.content for m in bob.chat.completions.messages.list(theirs).data] == [f"bob's private question {cue}"]
    assert theirs in [c.id for c in bob.chat.completions.list(limit=100)]

    # alice's completion is as it was, and each still sees only what the policy lets them.
    kept = alice.chat.completions.retrieve(mine)
    assert kept.metadata == {"by": "a"}
    assert kept.choices[0].message.content == f"Hello! You said: alice's private question {cue}"
    assert [m.content for m in alice.chat.completions.messages.list(mine).data] == [f"alice's private question {cue}"]
    with pytest.raises(openai.NotFoundError):
        bob.chat.completions.retrieve(mine)
    with pytest.raises(openai.NotFoundError):
        alice.chat.completions.retrieve(theirs)
    assert "bob's private" not in json.dumps([c.to_dict() for c in alice.chat.completions.list(limit=100)])

    # carol may read alice's completion (they share a team) but not replace it: hers gets its own id too.
    shared, _ = ask_with_id(carol, f"carol's question {cue}", by="c", stream=stream)
    assert shared not in (upstream_id, theirs)
    assert carol.chat.completions.retrieve(shared).metadata == {"by": "c"}
    assert carol.chat.completions.retrieve(mine).metadata == {"by": "a"}

    # bob again: the model server's id is still alice's, so another fresh id; his first completion stays.
    again, _ = ask_with_id(bob, f"bob asks again {cue}", by="b, again", stream=stream)
    assert again not in (upstream_id, theirs, shared)
    assert bob.chat.completions.retrieve(theirs).metadata == {"by": "b"}
    assert bob.chat.completions.retrieve(again).metadata == {"by": "b, again"}

    # alice's own repeat replaces her row, as llama-stack does.
    repeat, _ = ask_with_id(alice, f"alice asks again {cue}", by="a, again", stream=stream)
    assert repeat == mine
    replaced = alice.chat.completions.retrieve(mine)
    assert replaced.metadata == {"by": "a, again"}
    assert replaced.input_messages[0]["content"] == f"alice asks again {cue}"
