from __future__ import annotations

import dataclasses

from django.conf import settings

import pytest

from apps.files.config import FilesConfig


@pytest.fixture
def storage(tmp_path):
    """A fresh, empty storage directory (and a 1 MiB upload limit) for in-process file services."""
    original = settings.STACKADMIN_RUN_CONFIG
    root = tmp_path / "files"
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        original, files=FilesConfig(storage_dir=str(root), max_upload_bytes=1024 * 1024)
    )
    yield root
    settings.STACKADMIN_RUN_CONFIG = original
