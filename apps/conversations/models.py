"""Conversations and their items, in the SQL store `conversations`.

Items are ordered by a per-conversation `sequence` handed out from the conversation row's counter, not by
timestamps: items written together (or in the same second) still have one stable order, and a page is an index
range scan on (conversation, sequence) however many items the conversation holds.
"""

from __future__ import annotations

from django.db import models

from apps.core.models import OwnedModel


class Conversation(OwnedModel):
    public_id = models.CharField("id", max_length=53, unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    metadata = models.JSONField(default=dict, blank=True)
    # The last sequence number handed to an item; bumped under the row lock by every add.
    last_item_sequence = models.BigIntegerField(default=0, editable=False)

    resource_type = "conversation"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "openai_conversations"
        verbose_name = "conversation"


class ConversationItem(OwnedModel):
    # No separate index on the foreign key: both unique constraints below start with it.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="items", db_index=False)
    public_id = models.CharField("id", max_length=256, editable=False)
    sequence = models.BigIntegerField(editable=False)
    type = models.CharField(max_length=64, editable=False)
    # The item exactly as given (plus the `id` we assigned when it had none), returned unchanged.
    data = models.JSONField(editable=False)
    created_at = models.DateTimeField(editable=False)

    resource_type = "conversation_item"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "conversation_items"
        verbose_name = "conversation item"
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="conversation_item_sequence_uniq"),
            models.UniqueConstraint(fields=["conversation", "public_id"], name="conversation_item_id_uniq"),
        ]
