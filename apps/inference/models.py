"""Stored chat completions: the `inference` SQL store, table `inference_store` (llama-stack's name)."""

from __future__ import annotations

from django.db import models

from apps.core.models import OwnedModel


class ChatCompletion(OwnedModel):
    resource_type = "chat_completion"
    resource_id_field = "public_id"

    public_id = models.CharField("id", max_length=255, unique=True, editable=False)
    # When stackadmin received the request; lists are ordered by it (then by the row id, which never ties).
    created_at = models.DateTimeField(db_index=True, editable=False)
    # The model id the caller asked for (the list's `model` filter); the completion keeps the server's own name.
    model = models.CharField(max_length=255, db_index=True, editable=False)
    provider_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    # The chat.completion object exactly as returned to the caller (for a stream: assembled from its chunks).
    completion = models.JSONField(editable=False)
    input_messages = models.JSONField(editable=False)
    metadata = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        db_table = "inference_store"
        verbose_name = "chat completion"
        indexes = [models.Index(fields=["model", "created_at"], name="inference_model_created_idx")]

    def __str__(self) -> str:
        return self.public_id
