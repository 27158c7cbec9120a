"""Stored responses in the admin: read-only, with input, output, usage and the prompt version used."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, pretty_json
from apps.responses.models import StoredResponse


@admin.register(StoredResponse)
class StoredResponseAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "status", "created_at", "prompt_used", "total_tokens")
    list_filter = ("status", "model")
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
    readonly_fields = fields

    @admin.display(description="prompt")
    def prompt_used(self, obj: StoredResponse) -> str:
        return f"{obj.prompt_id} (version {obj.prompt_version})" if obj.prompt_id else ""

    @admin.display(description="tokens")
    def total_tokens(self, obj: StoredResponse):
        return (obj.response.get("usage") or {}).get("total_tokens")

    @admin.display(description="instructions")
    def instructions(self, obj: StoredResponse) -> str:
        return obj.response.get("instructions") or ""

    @admin.display(description="input")
    def input_display(self, obj: StoredResponse) -> str:
        return pretty_json(obj.input_items)

    @admin.display(description="output")
    def output_display(self, obj: StoredResponse) -> str:
        return pretty_json(obj.response.get("output"))

    @admin.display(description="usage")
    def usage_display(self, obj: StoredResponse) -> str:
        return pretty_json(obj.response.get("usage"))

    @admin.display(description="error")
    def error_display(self, obj: StoredResponse) -> str:
        return pretty_json(obj.response.get("error"))

    @admin.display(description="metadata")
    def metadata_display(self, obj: StoredResponse) -> str:
        return pretty_json(obj.response.get("metadata"))
