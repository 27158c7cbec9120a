"""Stored chat completions: the `inference` SQL store, table `inference_store` (llama-stack's name)."""

from __future__ import annotations

from django.db import models

from apps.core.models import PROMPT_USAGE_READS, ModelOutput, PromptUsageColumns


class ChatCompletion(ModelOutput, PromptUsageColumns):
    public_id = models.CharField("id", max_length=255, unique=True, editable=False)
    provider_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    # The chat.completion object exactly as returned to the caller (for a stream: assembled from its chunks).
    completion = models.JSONField(editable=False)
    input_messages = models.JSONField(editable=False)
    metadata = models.JSONField(default=dict, blank=True, editable=False)
    # A completion made with a stored prompt says so in its metadata (`prompt_id`, optional `prompt_version`: a
    # number or label, as `prompt.version` of a response). It then counts in that prompt version's usage
    # (apps.responses.usage), from the usage columns (`completion.usage`; the first chunk of a stream) and
    # `status`: `incomplete` when the model stopped at the token limit or its content filter (a failed completion
    # is not stored).
    prompt_id = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)
    status = models.CharField(max_length=16, default="completed", db_default="completed", editable=False)

    resource_type = "chat_completion"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "inference_store"
        verbose_name = "chat completion"
        indexes = [
            models.Index(fields=["model", "created_at"], name="inference_model_created_idx"),
            # Usage of a prompt over a time range, as `responses_prompt_usage_idx` for responses: every column the
            # usage statements read, so they scan a range of the index; partial, so completions made without a
            # prompt (most of them) cost no index write.
            models.Index(
                fields=["prompt_id", "created_at", "prompt_version", *PROMPT_USAGE_READS],
                name="inference_prompt_usage_idx",
                condition=~models.Q(prompt_id=""),
            ),
        ]
