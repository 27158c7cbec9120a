"""Small display filters for the prompts dashboard. Every filter returns plain text; templates escape it."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from apps.prompts.usage import PALETTE_SIZE

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


@register.inclusion_tag("components/_sparkline.html")
def sparkline(sparklines: dict | None, prompt_id: str) -> dict:
    """A prompt's requests-per-day sparkline from the list page's `sparklines` (by prompt id)."""
    return {"spark": (sparklines or {}).get(prompt_id)}


NONE = "\u2013"  # an en dash: no figure


@register.filter
def percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else NONE


@register.filter
def cost(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:.4f}" if value < 1 else f"{value:,.2f}"


@register.filter
def series(version: int) -> int:
    """The chart colour (CSS class `series-N`) of a version."""
    return version % PALETTE_SIZE
