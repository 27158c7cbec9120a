"""Stored chat completions in the admin: read-only (they are written by `/v1/chat/completions` only)."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, json_display
from apps.inference.models import ChatCompletion


@admin.register(ChatCompletion)
class ChatCompletionAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "provider_id", "created_at", "finish_reason", "total_tokens")
    list_filter = ("model", "provider_id")
    search_fields = ("public_id", "model")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "model",
        "provider_id",
        "created_at",
        "owner_principal",
        "metadata_display",
        "input_display",
        "output_display",
        "usage_display",
    )

    metadata_display = json_display("metadata", lambda obj: obj.metadata)
    input_display = json_display("input messages", lambda obj: obj.input_messages)
    output_display = json_display("choices", lambda obj: obj.completion.get("choices"))
    usage_display = json_display("usage", lambda obj: obj.completion.get("usage"))

    @admin.display(description="finish reason")
    def finish_reason(self, obj: ChatCompletion) -> str:
        choices = obj.completion.get("choices") or [{}]
        return choices[0].get("finish_reason") or ""

    @admin.display(description="tokens")
    def total_tokens(self, obj: ChatCompletion):
        return (obj.completion.get("usage") or {}).get("total_tokens")
