"""Unique names, so that tests sharing one PostgreSQL or Redis server never meet each other's data."""

from __future__ import annotations

import uuid


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"
