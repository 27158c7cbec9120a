"""Small display filters for the prompts dashboard. Every filter returns plain text; templates escape it."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def excerpt(text: str | None, length: int = 120) -> str:
    """The text on one line (whitespace collapsed), cut at `length` characters."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


@register.filter
def ago(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


@register.filter
def short_id(prompt_id: str) -> str:
    """`pmpt_` and the first 8 hex digits: enough to tell prompts apart in narrow places."""
    return prompt_id[:13] + "…" if len(prompt_id) > 14 else prompt_id
