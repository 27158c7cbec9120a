"""Conversation services and selectors in-process, on the test database."""

from __future__ import annotations

from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

import pytest
from pydantic import TypeAdapter

from apps.conversations import selectors, services
from apps.conversations.models import Conversation, ConversationItem
from apps.conversations.schemas import (
    AddConversationItemsRequest,
    CreateConversationRequest,
    Items,
    UpdateConversationRequest,
)
from apps.core.errors import BadRequestError, ConflictError, NotFoundError
from apps.core.principal import ANONYMOUS, Principal
from apps.core.validation import validated

pytestmark = pytest.mark.django_db


def msg(text: str, **extra) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}], **extra}


def texts(items: list[dict]) -> list[str]:
    return [item["content"][0]["text"] for item in items]


def all_pages(conversation_id: str, *, limit: int, order: str) -> list[dict]:
    seen, after = [], None
    while True:
        page = selectors.conversation_items_list(conversation_id=conversation_id, after=after, limit=limit, order=order)
        seen += page.data
        assert page.first_id == (page.data[0]["id"] if page.data else None)
        assert page.last_id == (page.data[-1]["id"] if page.data else None)
        if not page.has_more:
            return seen
        after = page.last_id


def test_create_with_items_and_metadata():
    conversation = services.conversation_create(items=[msg("a"), msg("b")], metadata={"topic": "demo"})
    assert conversation.public_id.startswith("conv_")
    assert len(conversation.public_id) == 53
    assert selectors.CONVERSATION_ID_RE.match(conversation.public_id)
    assert conversation.metadata == {"topic": "demo"}
    page = selectors.conversation_items_list(conversation_id=conversation.public_id, order="asc")
    assert texts(page.data) == ["a", "b"]
    assert page.has_more is False
    rows = ConversationItem.objects.filter(conversation=conversation)
    assert {row.created_at for row in rows} == {conversation.created_at}  # created together, one timestamp
    assert sorted(rows.values_list("sequence", flat=True)) == [1, 2]


def test_the_service_takes_more_than_twenty_initial_items():
    # The limit of 20 is the `/v1` request's (CreateConversationRequest), not the service's.
    conversation = services.conversation_create(items=[msg(str(i)) for i in range(25)])
    assert ConversationItem.objects.filter(conversation=conversation).count() == 25


def test_create_with_thousands_of_items_inserts_in_batches():
    # 5,000 items x 8 columns is more bound parameters than SQLite takes in one statement.
    items = TypeAdapter(Items).validate_python([{"role": "user", "content": str(i)} for i in range(5000)])
    conversation = services.conversation_create(items=items)
    rows = ConversationItem.objects.filter(conversation=conversation)
    assert rows.count() == 5000
    assert list(rows.order_by("sequence").values_list("sequence", flat=True)) == list(range(1, 5001))
    last = selectors.conversation_items_list(conversation_id=conversation.public_id, limit=1).data[0]
    assert last["content"] == "4999"


def test_ownership_is_recorded_on_every_row():
    alice = Principal("alice", {"teams": ["blue"]})
    conversation = services.conversation_create(items=[msg("a")], principal=alice)
    services.conversation_items_add(conversation_id=conversation.public_id, items=[msg("b")], principal=alice)
    anonymous = services.conversation_create(items=[msg("c")])
    conversation.refresh_from_db()
    assert (conversation.owner_principal, conversation.access_attributes) == ("alice", {"teams": ["blue"]})
    assert (
        list(
            ConversationItem.objects.filter(conversation=conversation).values_list(
                "owner_principal", "access_attributes"
            )
        )
        == [("alice", {"teams": ["blue"]})] * 2
    )
    anonymous.refresh_from_db()
    assert (anonymous.owner_principal, anonymous.access_attributes) == ("", None)
    item = ConversationItem.objects.get(conversation=anonymous)
    assert (item.owner_principal, item.access_attributes) == ("", None)
    assert ANONYMOUS.name == ""


def test_pagination_is_stable_when_every_timestamp_ties():
    # 30 items written in one transaction (one timestamp), then 3 adds in the same second: 45 tied timestamps.
    conversation = services.conversation_create(items=[msg(f"i{i:02d}") for i in range(30)])
    for batch in range(3):
        services.conversation_items_add(
            conversation_id=conversation.public_id, items=[msg(f"i{30 + batch * 5 + k:02d}") for k in range(5)]
        )
    expected = [f"i{i:02d}" for i in range(45)]
    for limit in (1, 7, 20, 45, 100):
        assert texts(all_pages(conversation.public_id, limit=limit, order="asc")) == expected
        assert texts(all_pages(conversation.public_id, limit=limit, order="desc")) == expected[::-1]


def test_page_flags_and_defaults():
    conversation = services.conversation_create(items=[msg(str(i)) for i in range(25)])
    first = selectors.conversation_items_list(conversation_id=conversation.public_id)
    assert len(first.data) == 20
    assert first.has_more is True
    assert texts(first.data)[0] == "24"  # newest first by default
    rest = selectors.conversation_items_list(conversation_id=conversation.public_id, after=first.last_id)
    assert texts(rest.data) == [str(i) for i in range(4, -1, -1)]
    assert rest.has_more is False
    last = selectors.conversation_items_list(conversation_id=conversation.public_id, after=rest.last_id)
    assert (last.data, last.has_more, last.first_id, last.last_id) == ([], False, None, None)


@pytest.mark.parametrize(("limit", "order"), [(0, "desc"), (101, "desc"), (-1, "asc"), (20, "sideways")])
def test_page_arguments_are_checked(limit, order):
    conversation = services.conversation_create()
    with pytest.raises(BadRequestError) as raised:
        selectors.conversation_items_list(conversation_id=conversation.public_id, limit=limit, order=order)
    assert raised.value.param in ("limit", "order")


def test_unknown_cursor_is_a_400_and_a_cursor_from_another_conversation_too():
    one = services.conversation_create(items=[msg("a")])
    other = services.conversation_create(items=[msg("b")])
    foreign = selectors.conversation_items_list(conversation_id=other.public_id).first_id
    for cursor in ("msg_nope", foreign):
        with pytest.raises(BadRequestError) as raised:
            selectors.conversation_items_list(conversation_id=one.public_id, after=cursor)
        assert raised.value.param == "after"


def test_ids_are_validated_before_lookup():
    for bad in ("conv_123", "conv_" + "A" * 48, "conv_" + "0" * 49, "conv_" + "0" * 48 + "\n", "file-" + "0" * 48, ""):
        with pytest.raises(BadRequestError) as raised:
            selectors.conversation_get(conversation_id=bad)
        assert raised.value.param == "conversation_id"
        assert "must match format 'conv_' followed by 48 lowercase hex characters" in raised.value.message
    missing = "conv_" + "0" * 48
    with pytest.raises(NotFoundError) as raised:
        selectors.conversation_get(conversation_id=missing)
    assert raised.value.message == f"Conversation '{missing}' not found."
    for call in (
        lambda: services.conversation_update(conversation_id=missing, metadata={}),
        lambda: services.conversation_delete(conversation_id=missing),
        lambda: services.conversation_items_add(conversation_id=missing, items=[msg("x")]),
        lambda: selectors.conversation_items_list(conversation_id=missing),
        lambda: selectors.conversation_item_get(conversation_id=missing, item_id="msg_1"),
        lambda: services.conversation_item_delete(conversation_id=missing, item_id="msg_1"),
    ):
        with pytest.raises(NotFoundError):
            call()


def test_update_replaces_metadata_and_none_clears_it():
    conversation = services.conversation_create(metadata={"a": "1", "b": "2"})
    updated = services.conversation_update(conversation_id=conversation.public_id, metadata={"c": "3"})
    assert updated.metadata == {"c": "3"}
    assert selectors.conversation_get(conversation_id=conversation.public_id).metadata == {"c": "3"}
    assert services.conversation_update(conversation_id=conversation.public_id, metadata=None).metadata == {}


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"": "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
        ({"k": 1}, "metadata.k"),
        (["not", "a", "map"], "metadata"),
    ],
)
def test_metadata_limits(metadata, param):
    # The request schemas hold the limits; a request they refuse never reaches the service.
    for schema in (CreateConversationRequest, UpdateConversationRequest):
        with pytest.raises(BadRequestError) as raised:
            validated(schema, {"metadata": metadata})
        assert raised.value.param == param
    assert not Conversation.objects.exists()


def test_metadata_at_the_limits_is_fine():
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    assert validated(CreateConversationRequest, {"metadata": metadata}).metadata == metadata
    assert services.conversation_create(metadata=metadata).metadata == metadata


def test_add_returns_items_as_stored_and_caps_at_twenty():
    conversation = services.conversation_create()
    request = validated(
        AddConversationItemsRequest, {"items": [msg("a"), {"role": "assistant", "content": "b", "extra": 1}]}
    )
    added = services.conversation_items_add(conversation_id=conversation.public_id, items=request.items)
    assert added[1] == {"role": "assistant", "content": "b", "extra": 1, "type": "message", "id": added[1]["id"]}
    assert selectors.conversation_item_get(conversation_id=conversation.public_id, item_id=added[1]["id"]) == added[1]
    # The cap is the add request's (a response's turn is appended through the same service, uncapped).
    with pytest.raises(BadRequestError) as raised:
        validated(AddConversationItemsRequest, {"items": [msg(str(i)) for i in range(21)]})
    assert raised.value.param == "items"
    with pytest.raises(BadRequestError):
        validated(AddConversationItemsRequest, {"items": []})
    with pytest.raises(BadRequestError) as raised:
        validated(CreateConversationRequest, {"items": [msg(str(i)) for i in range(21)]})
    assert raised.value.param == "items"
    assert ConversationItem.objects.filter(conversation=conversation).count() == 2


def test_a_bad_item_writes_nothing():
    conversation = services.conversation_create(items=[msg("a")])
    # Refused by the request schemas, before any service runs.
    with pytest.raises(BadRequestError):
        validated(AddConversationItemsRequest, {"items": [msg("b"), {"type": "bogus"}]})
    with pytest.raises(BadRequestError):
        validated(CreateConversationRequest, {"items": [msg("ok"), {"role": "user"}]})
    assert Conversation.objects.count() == 1
    assert ConversationItem.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.last_item_sequence == 1


def test_duplicate_supplied_id_in_the_same_conversation_is_a_conflict_and_writes_nothing():
    conversation = services.conversation_create(items=[msg("a", id="msg_mine")])
    with pytest.raises(ConflictError) as raised:
        services.conversation_items_add(
            conversation_id=conversation.public_id, items=[msg("b"), msg("c", id="msg_mine")]
        )
    assert "msg_mine" in raised.value.message
    assert texts(selectors.conversation_items_list(conversation_id=conversation.public_id).data) == ["a"]
    conversation.refresh_from_db()
    assert conversation.last_item_sequence == 1
    # The same id in another conversation is another item: nothing is moved or overwritten (llama-stack upserts).
    other = services.conversation_create(items=[msg("z", id="msg_mine")])
    assert texts([selectors.conversation_item_get(conversation_id=conversation.public_id, item_id="msg_mine")]) == ["a"]
    assert texts([selectors.conversation_item_get(conversation_id=other.public_id, item_id="msg_mine")]) == ["z"]


@pytest.mark.parametrize("supplied", [{}, {"id": "msg_fresh"}])
def test_an_integrity_error_that_is_no_duplicate_is_not_reported_as_one(supplied):
    """A value the database refuses (NaN in an item's JSON, which the API refuses first) is a server error, not a
    409 `duplicate_item_id`."""
    conversation = services.conversation_create(items=[msg("a")])
    with pytest.raises(IntegrityError):
        services.conversation_items_add(
            conversation_id=conversation.public_id, items=[msg("b", score=float("nan"), **supplied)]
        )
    assert texts(selectors.conversation_items_list(conversation_id=conversation.public_id).data) == ["a"]


def test_item_routes_check_the_parent():
    one = services.conversation_create(items=[msg("a", id="msg_one")])
    other = services.conversation_create()
    with pytest.raises(NotFoundError) as raised:
        selectors.conversation_item_get(conversation_id=other.public_id, item_id="msg_one")
    assert raised.value.message.startswith(
        f"Conversation item 'msg_one' not found in conversation '{other.public_id}'."
    )
    with pytest.raises(NotFoundError):
        services.conversation_item_delete(conversation_id=other.public_id, item_id="msg_one")
    assert selectors.conversation_item_get(conversation_id=one.public_id, item_id="msg_one")["id"] == "msg_one"


def test_item_delete_returns_the_conversation_and_keeps_the_order_of_the_rest():
    conversation = services.conversation_create(items=[msg("a"), msg("b"), msg("c")])
    middle = selectors.conversation_items_list(conversation_id=conversation.public_id, order="asc").data[1]["id"]
    returned = services.conversation_item_delete(conversation_id=conversation.public_id, item_id=middle)
    assert returned.public_id == conversation.public_id
    services.conversation_items_add(conversation_id=conversation.public_id, items=[msg("d")])
    asc = selectors.conversation_items_list(conversation_id=conversation.public_id, order="asc")
    assert texts(asc.data) == ["a", "c", "d"]
    with pytest.raises(NotFoundError):
        services.conversation_item_delete(conversation_id=conversation.public_id, item_id=middle)


def test_delete_cascades_to_items():
    doomed = services.conversation_create(items=[msg(str(i)) for i in range(5)])
    kept = services.conversation_create(items=[msg("stay")])
    services.conversation_delete(conversation_id=doomed.public_id)
    assert not Conversation.objects.filter(public_id=doomed.public_id).exists()
    assert ConversationItem.objects.count() == 1
    assert ConversationItem.objects.get().conversation_id == kept.pk
    with pytest.raises(NotFoundError):
        services.conversation_delete(conversation_id=doomed.public_id)


def test_conversation_list_pages_in_creation_order():
    ids = [services.conversation_create().public_id for _ in range(7)]
    seen, after = [], None
    while True:
        page = selectors.conversation_list(after=after, limit=3, order="asc")
        seen += [c.public_id for c in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert seen == ids
    assert [c.public_id for c in selectors.conversation_list(limit=2).data] == ids[::-1][:2]
    with pytest.raises(BadRequestError):
        selectors.conversation_list(after="conv_" + "f" * 48)


def test_list_reads_a_page_in_one_query(django_assert_num_queries):
    conversation = services.conversation_create(items=[msg(str(i)) for i in range(50)])
    first = selectors.conversation_items_list(conversation_id=conversation.public_id, limit=10)
    with django_assert_num_queries(1):
        page = selectors.conversation_items_list(conversation_id=conversation.public_id, after=first.last_id, limit=10)
    assert len(page.data) == 10
    with django_assert_num_queries(1):
        assert len(selectors.conversation_list(limit=20).data) == 1


def test_item_page_is_an_index_range_scan():
    """The page query (cursor included) walks the (conversation, sequence) index: no sort, no scan of the items."""
    conversation = services.conversation_create(items=[msg(str(i)) for i in range(30)])
    first = selectors.conversation_items_list(conversation_id=conversation.public_id, limit=5)
    with CaptureQueriesContext(connection) as captured:
        selectors.conversation_items_list(conversation_id=conversation.public_id, after=first.last_id, limit=5)
    (query,) = captured.captured_queries
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "conversation_items USING INDEX" in plan, plan
            assert "(conversation_id=? AND sequence<?)" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = " | ".join(row[0] for row in cursor.fetchall())
            assert "conversation_item_sequence_uniq" in plan, plan
            assert "Sort" not in plan, plan
