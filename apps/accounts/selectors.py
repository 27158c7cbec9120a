"""Reads for accounts: a user's API keys."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import APIKey


def api_keys_of(*, user) -> QuerySet[APIKey]:
    return APIKey.objects.filter(user=user).order_by("revoked_at", "-created_at")
