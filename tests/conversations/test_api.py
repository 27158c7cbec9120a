"""The Conversations API through the real OpenAI SDK against a live `stackadmin run` (SQLite)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.conversations import EXAMPLES, text_of, user
from tests.support.inference import raw_http, sdk

CONV_RE = r"^conv_[0-9a-f]{48}$"
MISSING = "conv_" + "0" * 48


@pytest.fixture(scope="module")
def server(stackadmin_server):
    return stackadmin_server


@pytest.fixture(scope="module")
def client(server):
    with sdk(server, timeout=30) as openai_client:
        yield openai_client


@pytest.fixture(scope="module")
def http(server):
    with raw_http(server, timeout=30) as raw:
        yield raw


def openai_error(raised: pytest.ExceptionInfo) -> dict:
    body = raised.value.response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# ------------------------------------------------------------------------------------------ llama-stack's suite
def test_conversation_create(client):
    conversation = client.conversations.create(
        metadata={"topic": "demo"}, items=[{"type": "message", "role": "user", "content": "Hello!"}]
    )
    assert conversation.id.startswith("conv_")
    assert len(conversation.id) == 53
    assert conversation.object == "conversation"
    assert conversation.metadata["topic"] == "demo"
    assert isinstance(conversation.created_at, int)


def test_conversation_retrieve(client):
    conversation = client.conversations.create(metadata={"topic": "demo"})
    retrieved = client.conversations.retrieve(conversation.id)
    assert (retrieved.id, retrieved.object, retrieved.metadata, retrieved.created_at) == (
        conversation.id,
        "conversation",
        {"topic": "demo"},
        conversation.created_at,
    )


def test_conversation_update_replaces_metadata(client):
    conversation = client.conversations.create(metadata={"topic": "demo", "other": "x"})
    updated = client.conversations.update(conversation.id, metadata={"topic": "project-x"})
    assert updated.id == conversation.id
    assert updated.created_at == conversation.created_at
    assert updated.metadata == {"topic": "project-x"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "project-x"}


def test_conversation_delete_deletes_its_items(client):
    conversation = client.conversations.create(items=[user("a"), user("b")])
    item_id = client.conversations.items.list(conversation.id).data[0].id
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (conversation.id, "conversation.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)
    # llama-stack served orphaned items by id after their conversation was deleted; nothing is left here.
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.delete(conversation.id)


def test_conversation_items_create(client):
    conversation = client.conversations.create()
    items = client.conversations.items.create(conversation.id, items=[user("Hello!"), user("How are you?")])
    assert items.object == "list"
    assert len(items.data) == 2
    assert [text_of(i) for i in items.data] == ["Hello!", "How are you?"]
    assert items.first_id == items.data[0].id
    assert items.last_id == items.data[1].id
    assert items.has_more is False
    assert all(i.id.startswith("msg_") for i in items.data)
    assert all(len(i.id) == 52 for i in items.data)


def test_conversation_items_list(client):
    conversation = client.conversations.create()
    client.conversations.items.create(conversation.id, items=[user("Hello!")])
    items = client.conversations.items.list(conversation.id, limit=10)
    assert items.object == "list"
    assert len(items.data) == 1
    assert (items.data[0].type, items.data[0].role) == ("message", "user")
    assert items.first_id == items.last_id == items.data[0].id
    assert items.has_more is False


def test_conversation_item_retrieve(client):
    conversation = client.conversations.create()
    item_id = client.conversations.items.create(conversation.id, items=[user("Hello!")]).data[0].id
    item = client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    assert (item.id, item.type, item.role, text_of(item)) == (item_id, "message", "user", "Hello!")


def test_conversation_item_delete_returns_the_conversation(client):
    conversation = client.conversations.create(metadata={"k": "v"})
    item_id = client.conversations.items.create(conversation.id, items=[user("Hello!")]).data[0].id
    result = client.conversations.items.delete(item_id, conversation_id=conversation.id)
    assert (result.id, result.object, result.metadata) == (conversation.id, "conversation", {"k": "v"})
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.delete(item_id, conversation_id=conversation.id)


def test_full_workflow(client):
    conversation = client.conversations.create(
        metadata={"topic": "workflow-test"}, items=[{"type": "message", "role": "user", "content": "Hello!"}]
    )
    client.conversations.items.create(conversation.id, items=[user("Follow up")])
    assert len(client.conversations.items.list(conversation.id).data) == 2
    assert client.conversations.update(conversation.id, metadata={"topic": "done"}).metadata == {"topic": "done"}
    client.conversations.delete(conversation.id)


# ------------------------------------------------------------------------------------------ items as given
def test_every_item_type_round_trips_unchanged(client):
    conversation = client.conversations.create()
    given = [{**item, "x_extension": {"kept": True}} for item in EXAMPLES.values()]
    stored = []
    for start in range(0, len(given), 20):
        stored += client.conversations.items.create(conversation.id, items=given[start : start + 20]).data
    assert len(stored) == len(given)
    raw = httpx.get(
        f"{client.base_url}conversations/{conversation.id}/items", params={"order": "asc", "limit": 100}
    ).json()
    assert raw["has_more"] is False
    for sent, got in zip(given, raw["data"], strict=True):
        assert got == {**sent, "id": got["id"]}
    for item in raw["data"]:
        one = client.conversations.items.retrieve(item["id"], conversation_id=conversation.id)
        assert one.model_dump(exclude_unset=True) == item


def test_string_content_and_caller_ids_are_kept(client, http):
    conversation = client.conversations.create()
    added = client.conversations.items.create(
        conversation.id,
        items=[{"role": "user", "content": "plain text", "id": "msg_client_chosen"}],
    )
    assert added.data[0].id == "msg_client_chosen"
    body = http.get(f"/conversations/{conversation.id}/items/msg_client_chosen").json()
    assert body == {"role": "user", "content": "plain text", "id": "msg_client_chosen", "type": "message"}


# ------------------------------------------------------------------------------------------ pagination
def test_pagination_across_pages_with_tied_timestamps(client):
    """45 items: 20 created with the conversation (one timestamp), then 20 in one add (another), then 5."""
    conversation = client.conversations.create(items=[user(f"i{i:02d}") for i in range(20)])
    client.conversations.items.create(conversation.id, items=[user(f"i{i:02d}") for i in range(20, 40)])
    client.conversations.items.create(conversation.id, items=[user(f"i{i:02d}") for i in range(40, 45)])
    expected = [f"i{i:02d}" for i in range(45)]
    for order, want in (("asc", expected), ("desc", expected[::-1])):
        for limit in (1, 6, 20, 100):
            pages = list(client.conversations.items.list(conversation.id, limit=limit, order=order).iter_pages())
            assert [text_of(i) for p in pages for i in p.data] == want
            assert len(pages) == -(-45 // limit)
            assert all(p.has_more for p in pages[:-1])
            assert pages[-1].has_more is False
    # The SDK's auto-pagination follows last_id the same way.
    assert [text_of(i) for i in client.conversations.items.list(conversation.id, limit=7, order="asc")] == expected


def test_conversation_list_extension(client, http):
    ids = [client.conversations.create(metadata={"n": str(i)}).id for i in range(3)]
    page = http.get("/conversations", params={"limit": 2}).json()
    assert page["object"] == "list"
    assert page["has_more"] is True
    assert [c["id"] for c in page["data"]] == ids[::-1][:2]
    assert page["data"][0] == {
        "id": ids[2],
        "object": "conversation",
        "created_at": page["data"][0]["created_at"],
        "metadata": {"n": "2"},
    }
    older = http.get("/conversations", params={"limit": 2, "after": page["last_id"]}).json()
    assert older["data"][0]["id"] == ids[0]
    ascending = http.get("/conversations", params={"order": "asc", "after": ids[0], "limit": 100}).json()
    assert [c["id"] for c in ascending["data"]][:2] == ids[1:]


# ------------------------------------------------------------------------------------------ bad input
def test_malformed_conversation_ids_are_400_before_lookup(client):
    for bad in ("conv_bad", "conv_" + "G" * 48, "conv_" + "0" * 47, "resp_" + "0" * 48):
        with pytest.raises(openai.BadRequestError) as raised:
            client.conversations.retrieve(bad)
        error = openai_error(raised)
        assert error["param"] == "conversation_id"
        assert "conv_" in error["message"]
        assert "48 lowercase hex" in error["message"]
        with pytest.raises(openai.BadRequestError):
            client.conversations.items.list(bad)
        with pytest.raises(openai.BadRequestError):
            client.conversations.items.create(bad, items=[user("x")])


def test_unknown_conversation_is_404_with_llama_stack_message(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.conversations.retrieve(MISSING)
    assert openai_error(raised)["message"] == f"Conversation '{MISSING}' not found."
    for call in (
        lambda: client.conversations.update(MISSING, metadata={}),
        lambda: client.conversations.delete(MISSING),
        lambda: client.conversations.items.create(MISSING, items=[user("x")]),
        lambda: client.conversations.items.list(MISSING),
        lambda: client.conversations.items.retrieve("msg_x", conversation_id=MISSING),
        lambda: client.conversations.items.delete("msg_x", conversation_id=MISSING),
    ):
        with pytest.raises(openai.NotFoundError):
            call()


def test_more_than_twenty_initial_items_is_a_400_and_creates_nothing(client, http):
    newest = http.get("/conversations", params={"limit": 1}).json()["first_id"]
    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.create(items=[user(str(i)) for i in range(21)])
    error = openai_error(raised)
    assert error["param"] == "items"
    assert "at most 20" in error["message"]
    assert http.get("/conversations", params={"limit": 1}).json()["first_id"] == newest


def test_twenty_initial_items_are_stored(client):
    conversation = client.conversations.create(items=[user(str(i)) for i in range(20)])
    listed = client.conversations.items.list(conversation.id, order="asc", limit=100)
    assert [text_of(i) for i in listed] == [str(i) for i in range(20)]


def test_more_than_twenty_items_per_add_writes_nothing(client):
    conversation = client.conversations.create(items=[user("only")])
    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.items.create(conversation.id, items=[user(str(i)) for i in range(21)])
    error = openai_error(raised)
    assert error["param"] == "items"
    assert "at most 20" in error["message"]
    assert [text_of(i) for i in client.conversations.items.list(conversation.id)] == ["only"]


def test_unknown_cursor_is_400(client):
    conversation = client.conversations.create(items=[user("a")])
    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.items.list(conversation.id, after="msg_does_not_exist")
    assert openai_error(raised)["param"] == "after"


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"), ({"order": "up"}, "order")],
)
def test_bad_page_parameters_are_400(client, http, params, param):
    conversation = client.conversations.create()
    response = http.get(f"/conversations/{conversation.id}/items", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"items": [{"type": "no_such_type"}]}, "items[0].type"),
        ({"items": [{"role": "user"}]}, "items[0].content"),
        ({"items": [user("ok"), {"type": "function_call", "name": "f", "arguments": "{}"}]}, "items[1].call_id"),
        ({"items": "not a list"}, "items"),
        ({"items": []}, "items"),
        ({}, "items"),
    ],
)
def test_bad_items_are_400_naming_the_field_and_write_nothing(client, http, body, param):
    conversation = client.conversations.create(items=[user("before")])
    response = http.post(f"/conversations/{conversation.id}/items", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert [text_of(i) for i in client.conversations.items.list(conversation.id)] == ["before"]


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
        ({"k": 5}, "metadata.k"),
    ],
)
def test_metadata_limits_are_400(client, metadata, param):
    with pytest.raises(openai.BadRequestError) as raised:
        client.conversations.create(metadata=metadata)
    assert openai_error(raised)["param"] == param
    conversation = client.conversations.create(metadata={"keep": "me"})
    with pytest.raises(openai.BadRequestError):
        client.conversations.update(conversation.id, metadata=metadata)
    assert client.conversations.retrieve(conversation.id).metadata == {"keep": "me"}


def test_duplicate_item_id_is_409_conflict(client):
    conversation = client.conversations.create(items=[{"role": "user", "content": "a", "id": "msg_same"}])
    with pytest.raises(openai.ConflictError):
        client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "b", "id": "msg_same"}])
    with pytest.raises(openai.BadRequestError):
        client.conversations.items.create(
            conversation.id,
            items=[
                {"role": "user", "content": "c", "id": "msg_new"},
                {"role": "user", "content": "d", "id": "msg_new"},
            ],
        )
    assert [i.id for i in client.conversations.items.list(conversation.id)] == ["msg_same"]


def test_malformed_json_and_wrong_types_are_400(client, http):
    response = http.post("/conversations", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()
    response = http.post("/conversations", json={"metadata": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"


def test_update_requires_metadata_and_include_is_accepted(client, http):
    conversation = client.conversations.create(items=[user("a")])
    response = http.post(f"/conversations/{conversation.id}", json={})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"
    listed = client.conversations.items.list(conversation.id, include=["message.output_text.logprobs"])
    assert [text_of(i) for i in listed] == ["a"]
    added = client.conversations.items.create(
        conversation.id, items=[user("b")], include=["reasoning.encrypted_content"]
    )
    assert text_of(added.data[0]) == "b"


def test_routes_are_documented(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/conversations"]) == {"get", "post"}
    assert set(paths["/v1/conversations/{conversation_id}"]) == {"get", "post", "delete"}
    assert set(paths["/v1/conversations/{conversation_id}/items"]) == {"get", "post"}
    assert set(paths["/v1/conversations/{conversation_id}/items/{item_id}"]) == {"get", "delete"}
    assert "extension" in paths["/v1/conversations"]["get"]["summary"]


def test_unknown_parameters_are_400(client, http):
    response = http.post("/conversations", json={"metadata": {}, "itmes": []})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "itmes"
    assert response.json()["error"]["code"] == "unknown_parameter"
    conversation = client.conversations.create()
    response = http.post(f"/conversations/{conversation.id}/items", json={"items": [user("a")], "extra": 1})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "extra"


def test_concurrent_adds_from_two_sqlite_workers_keep_every_item_in_order(start_server):
    from concurrent.futures import ThreadPoolExecutor

    server = start_server(workers=2)
    conversation_id = httpx.post(server.url + "/v1/conversations", json={}).json()["id"]

    def writer(n: int) -> list[str]:
        with httpx.Client(base_url=server.url + "/v1", timeout=60) as raw:
            ids = []
            for k in range(10):
                response = raw.post(
                    f"/conversations/{conversation_id}/items",
                    json={"items": [user(f"w{n}-{k}-a"), user(f"w{n}-{k}-b")]},
                )
                assert response.status_code == 200, response.text
                ids += [item["id"] for item in response.json()["data"]]
            return ids

    with ThreadPoolExecutor(8) as pool:
        per_writer = list(pool.map(writer, range(8)))
    with openai.OpenAI(base_url=server.url + "/v1", api_key="test", max_retries=0) as sdk:
        listed = [i.id for i in sdk.conversations.items.list(conversation_id, order="asc", limit=100)]
    assert len(listed) == 160
    assert len(set(listed)) == 160
    for ids in per_writer:
        positions = [listed.index(item_id) for item_id in ids]
        assert positions == sorted(positions)
        assert all(positions[i + 1] == positions[i] + 1 for i in range(0, len(positions), 2))
