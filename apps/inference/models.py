"""Stored chat completions: the `inference` SQL store, table `inference_store` (llama-stack's name)."""

from __future__ import annotations

from django.db import models

from apps.core.models import ModelOutput


class ChatCompletion(ModelOutput):
    public_id = models.CharField("id", max_length=255, unique=True, editable=False)
    provider_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    # The chat.completion object exactly as returned to the caller (for a stream: assembled from its chunks).
    completion = models.JSONField(editable=False)
    input_messages = models.JSONField(editable=False)
    metadata = models.JSONField(default=dict, blank=True, editable=False)

    resource_type = "chat_completion"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "inference_store"
        verbose_name = "chat completion"
        indexes = [models.Index(fields=["model", "created_at"], name="inference_model_created_idx")]
