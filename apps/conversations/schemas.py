"""Public contracts of the Conversations API: OpenAI's shapes, plus a conversation list (a stackadmin extension)."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from apps.conversations.items import ITEM_TYPES, MAX_ITEMS_PER_ADD
from apps.conversations.models import Conversation as ConversationModel

_ITEMS_DOC = (
    "Responses API items, each an object with a `type` (one of: "
    + ", ".join(ITEM_TYPES)
    + "); an object with `role` and `content` but no `type` is a message. Items are stored and returned as given; "
    "an item without an `id` gets `msg_…` (messages) or `item_…` followed by 48 hex characters."
)
_METADATA_DOC = "Up to 16 string pairs; keys at most 64 characters, values at most 512."


class Conversation(Schema):
    id: str = Field(description="'conv_' followed by 48 lowercase hex characters.")
    object: Literal["conversation"] = "conversation"
    created_at: int = Field(description="Unix seconds.")
    metadata: dict[str, str] = Field(description=_METADATA_DOC)


class ConversationDeletedResource(Schema):
    id: str
    object: Literal["conversation.deleted"] = "conversation.deleted"
    deleted: bool = True


class ConversationItemList(Schema):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]] = Field(description=_ITEMS_DOC)
    first_id: str | None
    last_id: str | None
    has_more: bool


class ConversationList(Schema):
    """Extension: OpenAI has no way to list conversations; stackadmin's admin and dashboard need one."""

    object: Literal["list"] = "list"
    data: list[Conversation]
    first_id: str | None
    last_id: str | None
    has_more: bool


class CreateConversationRequest(Schema):
    model_config = ConfigDict(extra="forbid")  # OpenAI: an unknown parameter is a 400

    items: list[dict[str, Any]] | None = Field(None, description="Initial items. " + _ITEMS_DOC)
    metadata: dict[str, str] | None = Field(None, description=_METADATA_DOC)


class UpdateConversationRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, str] | None = Field(description="Replaces the metadata wholesale; null clears it.")


class AddConversationItemsRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(description=f"1 to {MAX_ITEMS_PER_ADD} items. " + _ITEMS_DOC)


def conversation_object(conversation: ConversationModel) -> dict:
    return {
        "id": conversation.public_id,
        "object": "conversation",
        "created_at": int(conversation.created_at.timestamp()),
        "metadata": conversation.metadata or {},
    }
