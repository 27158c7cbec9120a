"""Stored responses in the admin: read-only, with input, output, usage and the prompt version used."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdmin, json_display
from apps.responses.models import StoredResponse


@admin.register(StoredResponse)
class StoredResponseAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "status", "created_at", "prompt_used", "total_tokens")
    list_filter = ("status", "model", "origin")
    search_fields = ("public_id", "model", "prompt_id", "conversation_id", "previous_response_id")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "model",
        "status",
        "created_at",
        "prompt_used",
        "previous_response_id",
        "conversation_id",
        "owner_principal",
        "instructions",
        "input_display",
        "output_display",
        "usage_display",
        "error_display",
        "metadata_display",
    )

    input_display = json_display("input", lambda obj: obj.input_items)
    output_display = json_display("output", lambda obj: obj.response.get("output"))
    usage_display = json_display("usage", lambda obj: obj.response.get("usage"))
    error_display = json_display("error", lambda obj: obj.response.get("error"))
    metadata_display = json_display("metadata", lambda obj: obj.response.get("metadata"))

    @admin.display(description="prompt")
    def prompt_used(self, obj: StoredResponse) -> str:
        """The prompt version used, linking to its page on the dashboard (its usage and playground)."""
        if not obj.prompt_id:
            return ""
        url = reverse("prompts:detail", args=[obj.prompt_id]) + f"?version={obj.prompt_version}"
        via = " from the playground" if obj.origin == "playground" else ""
        return format_html('<a href="{}">{} (version {})</a>{}', url, obj.prompt_id, obj.prompt_version, via)

    @admin.display(description="tokens")
    def total_tokens(self, obj: StoredResponse):
        return (obj.response.get("usage") or {}).get("total_tokens")

    @admin.display(description="instructions")
    def instructions(self, obj: StoredResponse) -> str:
        return obj.response.get("instructions") or ""
