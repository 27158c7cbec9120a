from __future__ import annotations

import dataclasses

import pytest

from apps.files.config import FilesConfig


@pytest.fixture
def storage(tmp_path, settings):
    """A fresh, empty storage directory (and a 1 MiB upload limit) for in-process file services."""
    root = tmp_path / "files"
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG, files=FilesConfig(storage_dir=str(root), max_upload_bytes=1024 * 1024)
    )
    return root
