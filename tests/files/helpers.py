"""Helpers shared by the file tests."""

from __future__ import annotations

from pathlib import Path


def stored_files(root: Path) -> list[str]:
    """Every regular file under a storage directory, staged ones included, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
