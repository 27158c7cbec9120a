"""Admin building blocks the apps share (this app registers no models of its own)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html


def pretty_json(value) -> str:
    """A JSON value as an escaped, indented block."""
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows only `/v1` writes (stored completions and responses): operators look, they do not edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
