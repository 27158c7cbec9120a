"""Conversation writes. Each is one transaction on the conversations store's database.

Item order comes from the conversation row's `last_item_sequence` counter: an add bumps it by the number of new
items with one UPDATE, which also locks the row, so concurrent adds to one conversation (from any worker process)
get disjoint, gap-free ranges, and adds to different conversations never wait for each other.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationItem
from apps.conversations.selectors import (
    conversation_denied,
    conversations_visible,
    item_not_found,
    validate_conversation_id,
)
from apps.core.access import require_create
from apps.core.errors import BadRequestError, ConflictError
from apps.core.items import with_id
from apps.core.principal import ANONYMOUS, Principal


def _db() -> str:
    return router.db_for_write(Conversation)


def new_conversation_id() -> str:
    return "conv_" + secrets.token_hex(24)


def _item_rows(
    conversation: Conversation, items: list[dict], first_sequence: int, now: datetime, principal: Principal
) -> list[ConversationItem]:
    owner = ConversationItem.owner_fields(principal)
    return [
        ConversationItem(
            conversation=conversation,
            public_id=item["id"],
            sequence=first_sequence + offset,
            type=item["type"],
            data=item,
            created_at=now,
            **owner,
        )
        for offset, item in enumerate(items)
    ]


def conversation_create(
    *, items: list[dict] | None = None, metadata: dict[str, str] | None = None, principal: Principal = ANONYMOUS
) -> Conversation:
    """A new conversation, with its initial items in given order.

    `items` and `metadata` are as their schemas (`apps.conversations.schemas`) let them through: through `/v1`, at
    most 20 items (OpenAI's limit; llama-stack does not cap create)."""
    clean_items = [with_id(item) for item in items or ()]
    require_create(principal, "conversation")
    now = timezone.now()
    db = _db()
    with transaction.atomic(using=db):
        conversation = Conversation(
            public_id=new_conversation_id(),
            created_at=now,
            metadata=metadata or {},
            last_item_sequence=len(clean_items),
        ).stamp(principal)
        conversation.save(force_insert=True)
        if clean_items:
            _insert_items(db, _item_rows(conversation, clean_items, 1, now, principal))
    return conversation


def conversation_update(
    *, conversation_id: str, metadata: dict[str, str] | None, principal: Principal = ANONYMOUS
) -> Conversation:
    """Replace the metadata wholesale (OpenAI and llama-stack do not merge); `None` clears it."""
    validate_conversation_id(conversation_id)
    with transaction.atomic(using=_db()):
        conversation = (
            conversations_visible(principal=principal, action="update")
            .select_for_update()
            .filter(public_id=conversation_id)
            .first()
        )
        if conversation is None:
            raise conversation_denied(conversation_id, principal, "update")
        conversation.metadata = metadata or {}
        conversation.save(update_fields=["metadata"])
    return conversation


def conversation_delete(*, conversation_id: str, principal: Principal = ANONYMOUS) -> None:
    """Delete the conversation and every item in it (llama-stack left the items behind)."""
    validate_conversation_id(conversation_id)
    with transaction.atomic(using=_db()):
        pk = (
            conversations_visible(principal=principal, action="delete")
            .filter(public_id=conversation_id)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise conversation_denied(conversation_id, principal, "delete")
        # The cascade is one DELETE of the items by conversation (no per-item signals are connected).
        Conversation.objects.filter(pk=pk).delete()


def _claim_sequences(db: str, conversation_id: str, count: int, principal: Principal) -> tuple[int, int] | None:
    """Bump the visible conversation's item counter by `count`: (conversation pk, new last sequence), or None.

    One `UPDATE ... RETURNING` (SQLite >= 3.35, PostgreSQL) claims the range and takes the row lock that
    serialises concurrent adds to this conversation. The ORM has no UPDATE ... RETURNING; the conversation is
    still picked by the `conversations_visible` queryset, so access control reaches this statement too.
    """
    connection = connections[db]
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    counter = quote(Conversation._meta.get_field("last_item_sequence").column)
    pk = quote(Conversation._meta.pk.column)
    visible = (
        conversations_visible(principal=principal, action="update").filter(public_id=conversation_id).values("pk")[:1]
    )
    subquery, params = visible.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {counter} = {counter} + %s WHERE {pk} = ({subquery}) RETURNING {pk}, {counter}",
            [count, *params],
        )
        return cursor.fetchone()


_INSERT_BATCH = 500  # rows per INSERT: well under SQLite's 32,766 bound parameters


def _insert_items(db: str, rows: list[ConversationItem]) -> None:
    """Multi-row INSERTs. `bulk_create` would build the same statements at several times the CPU cost, and this
    is the hottest write path; values still go through each field's own conversion for the backend."""
    connection = connections[db]
    quote = connection.ops.quote_name
    fields = [f for f in ConversationItem._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_BATCH):
            batch = rows[start : start + _INSERT_BATCH]
            cursor.execute(
                f"INSERT INTO {quote(ConversationItem._meta.db_table)} ({columns}) VALUES "
                + ", ".join([row_sql] * len(batch)),
                [f.get_db_prep_save(getattr(row, f.attname), connection) for row in batch for f in fields],
            )


def conversation_items_add(*, conversation_id: str, items: list[dict], principal: Principal = ANONYMOUS) -> list[dict]:
    """Append the items after the conversation's last one, all or none; returns them as stored (with their ids).

    Any number: the API's limit of 20 per request is its schema's, and a response's turn (its input and output
    items) is appended through here in one piece."""
    validate_conversation_id(conversation_id)
    if not items:
        return []
    supplied = [item["id"] for item in items if item.get("id") is not None]
    clean_items = [with_id(item) for item in items]
    now = timezone.now()
    db = _db()
    try:
        with transaction.atomic(using=db):
            claimed = _claim_sequences(db, conversation_id, len(clean_items), principal)
            if claimed is None:
                raise conversation_denied(conversation_id, principal, "update")
            conversation_pk, last = claimed
            if supplied:
                taken = list(
                    ConversationItem.objects.filter(
                        conversation_id=conversation_pk, public_id__in=supplied
                    ).values_list("public_id", flat=True)[:1]
                )
                if taken:
                    raise ConflictError(
                        f"Item '{taken[0]}' already exists in conversation '{conversation_id}'.",
                        param="items",
                        code="duplicate_item_id",
                    )
            conversation = Conversation(pk=conversation_pk)
            _insert_items(db, _item_rows(conversation, clean_items, last - len(clean_items) + 1, now, principal))
    except IntegrityError as exc:
        # A race on the (conversation, id) constraint: another request added one of these ids first. Any other
        # integrity error (a value the database refuses) is not the caller's duplicate and stays a server error.
        if not _ids_taken(conversation_id, supplied):
            raise
        raise ConflictError(
            f"One of these item ids was just added to conversation '{conversation_id}' by another request.",
            param="items",
            code="duplicate_item_id",
        ) from exc
    return clean_items


def _ids_taken(conversation_id: str, ids: list[str]) -> bool:
    """Whether any of `ids` is now in the conversation (after a failed add rolled back its own rows)."""
    return bool(ids) and (
        ConversationItem.objects.filter(conversation__public_id=conversation_id, public_id__in=ids).exists()
    )


def conversation_item_delete(*, conversation_id: str, item_id: str, principal: Principal = ANONYMOUS) -> Conversation:
    """Delete one item of this conversation (an item of another conversation is not found); returns the conversation."""
    validate_conversation_id(conversation_id)
    if not item_id:
        raise BadRequestError("Invalid value for 'item_id': expected a non-empty id.", param="item_id")
    with transaction.atomic(using=_db()):
        conversation = (
            conversations_visible(principal=principal, action="update").filter(public_id=conversation_id).first()
        )
        if conversation is None:
            raise conversation_denied(conversation_id, principal, "update")
        deleted, _ = ConversationItem.objects.filter(conversation=conversation, public_id=item_id).delete()
        if not deleted:
            raise item_not_found(conversation_id, item_id)
    return conversation
