"""Public contracts of the Conversations API: OpenAI's shapes, plus a conversation list (a stackadmin extension)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from apps.conversations.models import Conversation as ConversationModel
from apps.conversations.selectors import CONVERSATION_ID_RE, MAX_PAGE_SIZE
from apps.core.items import ITEM_TYPES, Item
from apps.core.metadata import METADATA_DOC, Metadata
from apps.core.schemas import CursorList, Deleted, documented, id_pattern, page_size
from apps.core.validation import invalid, rejected

MAX_ITEMS_PER_ADD = 20  # OpenAI's limit on the items one request adds, at create too

ConversationId = documented(str, **id_pattern(CONVERSATION_ID_RE, "'conv_' followed by 48 lowercase hex characters."))
PageSize = documented(int, **page_size(MAX_PAGE_SIZE))

_ITEMS_DOC = (
    "Responses API items, each an object with a `type` (one of: "
    + ", ".join(ITEM_TYPES)
    + "); an object with `role` and `content` but no `type` is a message. Items are stored and returned as given; "
    "an item without an `id` gets `msg_…` (messages) or `item_…` followed by 48 hex characters."
)


def _distinct_ids(items: list[dict]) -> list[dict]:
    """A caller's ids are unique within one request (the service refuses one already in the conversation)."""
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = item.get("id")
        if item_id is None:
            continue
        first = seen.setdefault(item_id, index)
        if first != index:
            raise rejected(
                "Duplicate item id {item_id!r} in 'items' (at {first} and {index}).",
                code="duplicate_item_id",
                at=(index, "id"),
                item_id=item_id,
                first=first,
                index=index,
            )
    return items


def _at_most_per_add(items: Any) -> Any:
    # Before the items themselves: a request over the limit is refused whatever it holds, without checking
    # thousands of items first.
    if isinstance(items, list) and len(items) > MAX_ITEMS_PER_ADD:
        raise invalid(
            f"at most {MAX_ITEMS_PER_ADD} items can be added at a time; got {len(items)}",
            code="array_above_max_length",
        )
    return items


def _at_least_one(items: list[dict]) -> list[dict]:
    if not items:
        raise invalid("add at least one item", code="array_below_min_length")
    return items


Items = Annotated[list[Item], AfterValidator(_distinct_ids)]
# At most MAX_ITEMS_PER_ADD items, counted (and documented) before any item is checked.
CappedItems = Annotated[
    Items, BeforeValidator(_at_most_per_add), Field(json_schema_extra={"maxItems": MAX_ITEMS_PER_ADD})
]


class Conversation(Schema):
    id: str = Field(description="'conv_' followed by 48 lowercase hex characters.")
    object: Literal["conversation"] = "conversation"
    created_at: int = Field(description="Unix seconds.")
    metadata: dict[str, str] = Field(description=METADATA_DOC)


class ConversationDeletedResource(Deleted):
    object: Literal["conversation.deleted"] = "conversation.deleted"


class ConversationItemList(CursorList[dict[str, Any]]):
    data: list[dict[str, Any]] = Field(description=_ITEMS_DOC)


class ConversationList(CursorList[Conversation]):
    """Extension: OpenAI has no way to list conversations; stackadmin's admin and dashboard need one."""


class CreateConversationRequest(Schema):
    model_config = ConfigDict(extra="forbid")  # OpenAI: an unknown parameter is a 400

    items: CappedItems | None = Field(
        None,
        description=f"Up to {MAX_ITEMS_PER_ADD} initial items (OpenAI's limit; add more with "
        "`POST /v1/conversations/{conversation_id}/items`). " + _ITEMS_DOC,
    )
    metadata: Metadata | None = None


class UpdateConversationRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    metadata: Metadata | None = Field(description="Replaces the metadata wholesale; null clears it.")


class AddConversationItemsRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[CappedItems, AfterValidator(_at_least_one)] = Field(
        description=f"1 to {MAX_ITEMS_PER_ADD} items. " + _ITEMS_DOC, json_schema_extra={"minItems": 1}
    )


def conversation_object(conversation: ConversationModel) -> dict:
    return {
        "id": conversation.public_id,
        "object": "conversation",
        "created_at": int(conversation.created_at.timestamp()),
        "metadata": conversation.metadata or {},
    }
