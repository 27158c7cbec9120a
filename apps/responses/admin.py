"""Stored responses in the admin: read-only, with input, output, usage and the prompt version used."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.core.admin import ReadOnlyAdmin, json_display
from apps.responses.models import ReplayRun, StoredResponse
from apps.responses.replay import replay_delete_rows
from apps.responses.selectors import tool_activity


@admin.register(StoredResponse)
class StoredResponseAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "model", "status", "created_at", "prompt_used", "tool_calls", "total_tokens")
    list_filter = ("status", "model", "origin")
    search_fields = ("public_id", "model", "prompt_id", "conversation_id", "previous_response_id")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "dashboard_link",
        "model",
        "status",
        "created_at",
        "prompt_used",
        "previous_response_id",
        "conversation_id",
        "owner_principal",
        "instructions",
        "input_display",
        "tools_display",
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

    @admin.display(description="on the dashboard")
    def dashboard_link(self, obj: StoredResponse) -> str:
        """The response's page on the dashboard, where its items read by type rather than as JSON."""
        return format_html('<a href="{}">{}</a>', reverse("prompts:response_detail", args=[obj.public_id]), "Open")

    @admin.display(description="tool calls")
    def tool_calls(self, obj: StoredResponse) -> int:
        """Calls the server ran for this response (MCP), besides the function calls left to the client."""
        return sum(1 for item in obj.response.get("output") or () if item.get("type") == "mcp_call")

    @admin.display(description="tools used")
    def tools_display(self, obj: StoredResponse) -> str:
        """The response's tool items (listings, calls, approvals) as a table, rather than in the output's JSON."""
        rows = tool_activity(items=obj.response.get("output") or [])
        if not rows:
            return "-"
        body = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>',
            (
                ("tool-failed" if row.failed else "tool-ok", row.kind, row.server, row.name, row.detail, row.outcome)
                for row in rows
            ),
        )
        return format_html(
            '<table class="tool-items"><thead><tr><th>what</th><th>server</th><th>tool</th><th>arguments / tools'
            "</th><th>result</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="tokens")
    def total_tokens(self, obj: StoredResponse):
        return (obj.response.get("usage") or {}).get("total_tokens")

    @admin.display(description="instructions")
    def instructions(self, obj: StoredResponse) -> str:
        return obj.response.get("instructions") or ""


@admin.register(ReplayRun)
class ReplayRunAdmin(ReadOnlyAdmin):
    """Replays against a candidate (made on the dashboard's prompt pages): looked at here, and deleted."""

    list_display = (
        "public_id",
        "prompt_id",
        "source",
        "candidate_version",
        "status",
        "progress",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("public_id", "prompt_id", "created_by")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "prompt_link",
        "source",
        "candidate_version",
        "model",
        "since",
        "until",
        "sample",
        "status",
        "progress",
        "errors",
        "message",
        "created_by",
        "created_at",
        "finished_at",
        "owner_principal",
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        return True

    def delete_model(self, request, obj: ReplayRun) -> None:
        replay_delete_rows(runs=ReplayRun.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        replay_delete_rows(runs=queryset)

    @admin.display(description="source")
    def source(self, obj: ReplayRun) -> str:
        return f"label {obj.source_label}" if obj.source_label else f"version {obj.source_version}"

    @admin.display(description="progress")
    def progress(self, obj: ReplayRun) -> str:
        return f"{obj.processed} / {obj.total}"

    @admin.display(description="prompt")
    def prompt_link(self, obj: ReplayRun) -> str:
        url = reverse("prompts:replay_detail", args=[obj.prompt_id, obj.public_id])
        return format_html('<a href="{}">{}</a> (on the dashboard)', url, obj.prompt_id)
