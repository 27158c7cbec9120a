"""What counts as a conversation item: every Responses item type, checked on its essentials, kept as given.

Items are checked by the request schemas (`apps.core.items.Item`) and given their ids by the services
(`with_id`); these helpers run both as a create or add request does.
"""

from __future__ import annotations

import copy

import pytest

from apps.conversations.schemas import AddConversationItemsRequest, CreateConversationRequest
from apps.core.errors import BadRequestError
from apps.core.items import ITEM_TYPES, with_id
from apps.core.validation import validated
from tests.support.conversations import EXAMPLES


def normalize_items(items, *, max_items=None) -> list[dict]:
    """As a create request does (any number), or with `max_items=20` as an add request does."""
    schema = AddConversationItemsRequest if max_items == 20 else CreateConversationRequest
    return [with_id(item) for item in validated(schema, {"items": items}).items]


def normalize_item(item) -> dict:
    return normalize_items([item])[0]


def test_examples_cover_every_type():
    assert set(EXAMPLES) == set(ITEM_TYPES)


@pytest.mark.parametrize("item_type", ITEM_TYPES)
def test_every_type_is_kept_as_given_plus_an_id(item_type):
    given = {**copy.deepcopy(EXAMPLES[item_type]), "x_future_field": {"nested": [1, None]}}
    stored = normalize_item(given)
    prefix = "msg_" if item_type == "message" else "item_"
    assert stored.pop("id").startswith(prefix)
    assert stored == given


def test_generated_ids_are_prefix_and_48_hex():
    ids = [normalize_item({"role": "user", "content": "x"})["id"] for _ in range(3)]
    ids.append(normalize_item(EXAMPLES["function_call"])["id"])
    for item_id in ids:
        prefix, _, digits = item_id.partition("_")
        assert prefix in ("msg", "item")
        assert len(digits) == 48
        assert int(digits, 16) >= 0
    assert len(set(ids)) == 4


def test_easy_input_message_gets_type_message_and_string_content_stays_a_string():
    stored = normalize_item({"role": "user", "content": "Hello!"})
    assert stored["type"] == "message"
    assert stored["content"] == "Hello!"


def test_caller_ids_are_kept_verbatim():
    stored = normalize_item({**EXAMPLES["function_call"], "id": "fc_ABC.123:x-y"})
    assert stored["id"] == "fc_ABC.123:x-y"


@pytest.mark.parametrize(
    ("item", "param", "fragment"),
    [
        ("not an object", "items[0]", "expected an item object"),
        ({"content": "no type, no role"}, "items[0].type", "Missing required parameter"),
        ({"type": "bogus"}, "items[0].type", "unknown item type 'bogus'"),
        ({"type": "item_reference", "id": "msg_1"}, "items[0].type", "points at an item"),
        ({"type": "message", "content": "x"}, "items[0].role", "Missing required parameter"),
        ({"type": "message", "role": "wizard", "content": "x"}, "items[0].role", "unknown role"),
        ({"type": "message", "role": "user", "content": 5}, "items[0].content", "a string or an array"),
        ({"role": "user", "content": [{"text": "no type"}]}, "items[0].content[0].type", "unknown content part"),
        ({"role": "user", "content": [{"type": "input_text"}]}, "items[0].content[0].text", "Missing"),
        ({"role": "user", "content": [{"type": "input_text", "text": 3}]}, "items[0].content[0].text", "a string"),
        ({"type": "function_call", "call_id": "c", "name": "f"}, "items[0].arguments", "Missing"),
        ({"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}, "items[0].arguments", "a string"),
        ({"type": "function_call_output", "output": "x"}, "items[0].call_id", "Missing"),
        (
            {"type": "mcp_approval_response", "approval_request_id": "r", "approve": "yes"},
            "items[0].approve",
            "boolean",
        ),
        ({"role": "user", "content": "x", "id": ""}, "items[0].id", "non-empty"),
        ({"role": "user", "content": "x", "id": "a/b"}, "items[0].id", "cannot contain"),
        ({"role": "user", "content": "x", "id": "msg_1\n"}, "items[0].id", "cannot contain"),
        ({"role": "user", "content": "x", "id": "x" * 257}, "items[0].id", "at most 256"),
    ],
)
def test_bad_items_name_the_field(item, param, fragment):
    with pytest.raises(BadRequestError) as raised:
        normalize_items([item])
    assert raised.value.param == param
    assert fragment in raised.value.message


def test_at_most_twenty_per_add_and_no_duplicate_ids():
    twenty = [{"role": "user", "content": str(i)} for i in range(20)]
    assert len(normalize_items(twenty, max_items=20)) == 20
    with pytest.raises(BadRequestError) as raised:
        normalize_items([*twenty, {"role": "user", "content": "21"}], max_items=20)
    assert raised.value.param == "items"
    assert "at most 20" in raised.value.message
    with pytest.raises(BadRequestError) as raised:
        normalize_items([{"role": "user", "content": "a", "id": "m1"}, {"role": "user", "content": "b", "id": "m1"}])
    assert raised.value.param == "items[1].id"


def test_input_is_not_modified():
    given = {"role": "user", "content": "x"}
    normalize_item(given)
    assert given == {"role": "user", "content": "x"}
