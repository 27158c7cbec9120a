"""Conversation reads.

Every read starts from `conversations_visible`: the one place where the caller's principal will narrow the rows
(authentication and attribute-based access control are a later issue). Items are reached through it: a page of
items is `conversation_id = (SELECT id FROM visible conversations WHERE public_id = ...)`, so the narrowing lands
in the same SQL statement as the page it restricts, and pages are never short.

That scalar subquery (rather than a join) also matters for speed: with `conversation_id` fixed, PostgreSQL walks
the (conversation, sequence) index in order and stops after `limit + 1` rows, however many items the conversation
holds; through a join it would fetch every matching item and sort them.
"""

from __future__ import annotations

import re

from django.db.models import QuerySet, Subquery

from apps.conversations.models import Conversation, ConversationItem
from apps.core.errors import BadRequestError, NotFoundError, PermissionDeniedError, StackAdminError
from apps.core.paging import Order, Page, check_page_args, first_rows, pk_page
from apps.core.principal import ANONYMOUS, Principal

CONVERSATION_ID_RE = re.compile(r"^conv_[0-9a-f]{48}$")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def validate_conversation_id(conversation_id: object, *, param: str = "conversation_id") -> str:
    if not isinstance(conversation_id, str) or not CONVERSATION_ID_RE.fullmatch(conversation_id):
        shown = str(conversation_id)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise BadRequestError(
            f"Invalid value for '{param}': {shown}. Conversation ID must match format 'conv_' followed by 48 "
            "lowercase hex characters.",
            param=param,
            code="invalid_value",
        )
    return conversation_id


def conversation_not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(f"Conversation '{conversation_id}' not found.", param="conversation_id")


def item_not_found(conversation_id: str, item_id: str) -> NotFoundError:
    return NotFoundError(
        f"Conversation item '{item_id}' not found in conversation '{conversation_id}'. Use "
        f"'client.conversations.items.list(\"{conversation_id}\")' to list available conversation items.",
        param="item_id",
    )


def conversations_visible(*, principal: Principal = ANONYMOUS, action: str = "read") -> QuerySet[Conversation]:
    """Conversations the principal may `action` under the access policy, filtered in the query itself."""
    return Conversation.objects.visible_to(principal, action)


def conversation_denied(conversation_id: str, principal: Principal, action: str) -> StackAdminError:
    """Why a mutation found no row: 403 when the caller can see the conversation but the policy forbids the
    action, else 404, exactly as if it did not exist."""
    if action != "read" and conversations_visible(principal=principal).filter(public_id=conversation_id).exists():
        return PermissionDeniedError(f"You may not {action} conversation '{conversation_id}'.")
    return conversation_not_found(conversation_id)


def items_of(*, conversation_id: str, principal: Principal = ANONYMOUS) -> QuerySet[ConversationItem]:
    """The items of one conversation, provided the principal may see that conversation (else none)."""
    conversation_pk = conversations_visible(principal=principal).filter(public_id=conversation_id).values("pk")[:1]
    return ConversationItem.objects.filter(conversation_id=Subquery(conversation_pk))


def conversation_get(*, conversation_id: str, principal: Principal = ANONYMOUS) -> Conversation:
    validate_conversation_id(conversation_id)
    conversation = conversations_visible(principal=principal).filter(public_id=conversation_id).first()
    if conversation is None:
        raise conversation_not_found(conversation_id)
    return conversation


def conversation_list(
    *, after: str | None = None, limit: int = DEFAULT_PAGE_SIZE, order: Order = "desc", principal: Principal = ANONYMOUS
) -> Page:
    """Conversations in creation order (the integer key orders them: it never ties)."""
    check_page_args(limit, order, max_limit=MAX_PAGE_SIZE)
    visible = conversations_visible(principal=principal)
    return pk_page(visible, cursors=visible, after=after, limit=limit, order=order, noun="conversation")


def conversation_items_list(
    *,
    conversation_id: str,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    order: Order = "desc",
    principal: Principal = ANONYMOUS,
) -> Page:
    """One page of items as stored (dicts), in `sequence` order, `limit + 1` rows read to know `has_more`.

    The usual case is a single statement: the page itself, with the cursor's sequence number as a subquery.
    Only an empty page costs more, to tell an empty conversation from a missing one or an unknown cursor.
    """
    validate_conversation_id(conversation_id)
    check_page_args(limit, order, max_limit=MAX_PAGE_SIZE)
    items = items_of(conversation_id=conversation_id, principal=principal)
    rows = items
    if after is not None:
        cursor = Subquery(items.filter(public_id=after).values("sequence")[:1])
        rows = rows.filter(sequence__lt=cursor) if order == "desc" else rows.filter(sequence__gt=cursor)
    page = list(
        rows.order_by("-sequence" if order == "desc" else "sequence").values_list("data", flat=True)[: limit + 1]
    )
    if not page:
        if not conversations_visible(principal=principal).filter(public_id=conversation_id).exists():
            raise conversation_not_found(conversation_id)
        if after is not None and not items.filter(public_id=after).exists():
            raise BadRequestError(
                f"Invalid value for 'after': no item '{after}' in conversation '{conversation_id}'.",
                param="after",
                code="invalid_value",
            )
    return first_rows(page, limit)


def conversation_item_get(*, conversation_id: str, item_id: str, principal: Principal = ANONYMOUS) -> dict:
    validate_conversation_id(conversation_id)
    if not item_id:
        raise BadRequestError("Invalid value for 'item_id': expected a non-empty id.", param="item_id")
    found = list(
        items_of(conversation_id=conversation_id, principal=principal)
        .filter(public_id=item_id)
        .values_list("data", flat=True)[:1]
    )
    if not found:
        if not conversations_visible(principal=principal).filter(public_id=conversation_id).exists():
            raise conversation_not_found(conversation_id)
        raise item_not_found(conversation_id, item_id)
    return found[0]


def conversation_history(
    *, conversation_id: str, principal: Principal = ANONYMOUS, for_append: bool = False
) -> list[dict]:
    """Every item of the conversation, oldest first: the history a response continues from.

    With `for_append`, a principal who may read the conversation but not add to it is refused now, before a model
    is called for a turn that could never be stored."""
    conversation_get(conversation_id=conversation_id, principal=principal)
    if (
        for_append
        and not conversations_visible(principal=principal, action="update").filter(public_id=conversation_id).exists()
    ):
        raise conversation_denied(conversation_id, principal, "update")
    items = items_of(conversation_id=conversation_id, principal=principal)
    return list(items.order_by("sequence").values_list("data", flat=True))
