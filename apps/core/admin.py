"""Admin building blocks the apps share (this app registers no models of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.utils.html import format_html


def pretty_json(value) -> str:
    """A JSON value as an escaped, indented block."""
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))


def json_display(description: str, value: Callable[[Any], Any]) -> Callable[[admin.ModelAdmin, Any], str]:
    """An admin display method showing `value(obj)` with `pretty_json`, for a JSON column or a part of one:
    `usage_display = json_display("usage", lambda obj: obj.response.get("usage"))`."""

    @admin.display(description=description)
    def display(model_admin: admin.ModelAdmin, obj: Any) -> str:
        return pretty_json(value(obj))

    return display


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows only `/v1` writes (stored completions and responses): operators look, they do not edit.

    Without the change permission Django shows every field read-only, so subclasses list `fields` (display methods
    included) and need no `readonly_fields`."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
