"""The run config's `files` section: where uploaded bytes live and how large an upload may be."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.config import ConfigError


@dataclass(frozen=True)
class FilesConfig:
    storage_dir: str
    max_upload_bytes: int = 512 * 1024 * 1024


def files_config() -> FilesConfig:
    """The files section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.files


def parse_files(raw: Any, *, home: str) -> FilesConfig:
    """`files: {storage_dir, max_upload_bytes}`; the directory defaults to `files/` under the home."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("files: must be a mapping (storage_dir, max_upload_bytes)")
    unknown = set(raw) - {"storage_dir", "max_upload_bytes"}
    if unknown:
        raise ConfigError(f"files.{sorted(unknown)[0]}: unknown field (known: storage_dir, max_upload_bytes)")
    max_upload = raw.get("max_upload_bytes", FilesConfig.max_upload_bytes)
    if not isinstance(max_upload, int) or isinstance(max_upload, bool) or max_upload < 1:
        raise ConfigError(f"files.max_upload_bytes: must be a positive integer (got {max_upload!r})")
    storage_dir = raw.get("storage_dir") or os.path.join(home, "files")
    if not isinstance(storage_dir, str):
        raise ConfigError(f"files.storage_dir: must be a path (got {storage_dir!r})")
    return FilesConfig(storage_dir=os.path.expanduser(storage_dir), max_upload_bytes=max_upload)
