"""`/v1/conversations`: OpenAI's Conversations API (and llama-stack's), plus a paged conversation list.

The `include` query parameter OpenAI accepts on item routes is accepted and ignored: items are returned whole.
"""

from __future__ import annotations

from django.http import HttpRequest

from ninja import Query, Router

from apps.conversations import selectors, services
from apps.conversations.schemas import (
    AddConversationItemsRequest,
    Conversation,
    ConversationDeletedResource,
    ConversationId,
    ConversationItemList,
    ConversationList,
    CreateConversationRequest,
    PageSize,
    UpdateConversationRequest,
    conversation_object,
)
from apps.core.http import deleted_response, json_response, page_response
from apps.core.paging import Page
from apps.core.principal import request_principal
from apps.core.schemas import CHANGE, CREATE, DELETE, LIST, READ, PageOrder, responses

router = Router(tags=["conversations"])

_LIMIT = Query(selectors.DEFAULT_PAGE_SIZE, description=f"Page size, 1-{selectors.MAX_PAGE_SIZE}.")
_ORDER = Query("desc", description="'asc' (oldest first) or 'desc' (newest first, the default).")


@router.post("", response=responses(Conversation, *CREATE), summary="Create a conversation")
def create_conversation(request: HttpRequest, body: CreateConversationRequest):
    conversation = services.conversation_create(
        items=body.items, metadata=body.metadata, principal=request_principal(request)
    )
    return json_response(conversation_object(conversation))


@router.get("/{conversation_id}", response=responses(Conversation, *READ), summary="Retrieve a conversation")
def get_conversation(request: HttpRequest, conversation_id: ConversationId):
    conversation = selectors.conversation_get(conversation_id=conversation_id, principal=request_principal(request))
    return json_response(conversation_object(conversation))


@router.post(
    "/{conversation_id}", response=responses(Conversation, *CHANGE), summary="Replace a conversation's metadata"
)
def update_conversation(request: HttpRequest, conversation_id: ConversationId, body: UpdateConversationRequest):
    conversation = services.conversation_update(
        conversation_id=conversation_id, metadata=body.metadata, principal=request_principal(request)
    )
    return json_response(conversation_object(conversation))


@router.delete(
    "/{conversation_id}",
    response=responses(ConversationDeletedResource, *DELETE),
    summary="Delete a conversation and its items",
)
def delete_conversation(request: HttpRequest, conversation_id: ConversationId):
    services.conversation_delete(conversation_id=conversation_id, principal=request_principal(request))
    return deleted_response(conversation_id, "conversation.deleted")


@router.get(
    "",
    response=responses(ConversationList, *LIST),
    summary="List conversations (stackadmin extension)",
    description="Not part of OpenAI's API: pages through conversations in creation order.",
)
def list_conversations(
    request: HttpRequest,
    after: str | None = Query(None, description="A conversation id: return the conversations after it."),
    limit: PageSize = _LIMIT,
    order: PageOrder = _ORDER,
):
    page = selectors.conversation_list(after=after, limit=limit, order=order, principal=request_principal(request))
    return page_response(page, [conversation_object(c) for c in page.data])


@router.post(
    "/{conversation_id}/items", response=responses(ConversationItemList, *CHANGE), summary="Add items to a conversation"
)
def create_conversation_items(request: HttpRequest, conversation_id: ConversationId, body: AddConversationItemsRequest):
    items = services.conversation_items_add(
        conversation_id=conversation_id, items=body.items, principal=request_principal(request)
    )
    return page_response(Page.of(items, has_more=False))


@router.get(
    "/{conversation_id}/items", response=responses(ConversationItemList, *READ), summary="List a conversation's items"
)
def list_conversation_items(
    request: HttpRequest,
    conversation_id: ConversationId,
    after: str | None = Query(None, description="An item id: return the items after it in the chosen order."),
    limit: PageSize = _LIMIT,
    order: PageOrder = _ORDER,
):
    page = selectors.conversation_items_list(
        conversation_id=conversation_id, after=after, limit=limit, order=order, principal=request_principal(request)
    )
    return page_response(page)


@router.get(
    "/{conversation_id}/items/{item_id}", response=responses(dict, *READ), summary="Retrieve an item of a conversation"
)
def get_conversation_item(request: HttpRequest, conversation_id: ConversationId, item_id: str):
    item = selectors.conversation_item_get(
        conversation_id=conversation_id, item_id=item_id, principal=request_principal(request)
    )
    return json_response(item)


@router.delete(
    "/{conversation_id}/items/{item_id}",
    response=responses(Conversation, *DELETE),
    summary="Delete an item of a conversation; returns the conversation (as OpenAI does)",
)
def delete_conversation_item(request: HttpRequest, conversation_id: ConversationId, item_id: str):
    conversation = services.conversation_item_delete(
        conversation_id=conversation_id, item_id=item_id, principal=request_principal(request)
    )
    return json_response(conversation_object(conversation))
