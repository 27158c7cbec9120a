"""What the process builds from the run config follows the setting: a test switches configs with the `settings`
fixture, and KV clients, database aliases and write queues are rebuilt from the new one (apps.core.handlers)."""

from __future__ import annotations

import dataclasses
import threading
import uuid

from django.db import router

import pytest

from apps.files.models import File
from apps.storage.kv import kv_store
from apps.storage.write_queue import write_queue
from stackadmin.config import parse_config


def config(stores: dict, **backends: dict):
    return parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_memory"},
                    "sql_default": {"type": "sql_sqlite", "db_path": ":memory:"},
                    **backends,
                },
                "stores": stores,
            }
        },
        source="tests",
        home="/nonexistent/stackadmin-home",
    )


def prompts_in(namespace: str):
    return config({"prompts": {"backend": "kv_default", "namespace": namespace}})


def test_kv_stores_follow_the_run_config_setting(settings):
    settings.STACKADMIN_RUN_CONFIG = prompts_in(f"a_{uuid.uuid4().hex}")
    first = kv_store("prompts")
    first.set("key", "stored under the first config")
    assert kv_store("prompts") is first
    settings.STACKADMIN_RUN_CONFIG = prompts_in(f"b_{uuid.uuid4().hex}")
    second = kv_store("prompts")
    assert second is not first
    assert second.get("key") is None


def test_database_aliases_follow_the_run_config_setting(settings):
    assert router.db_for_read(File) == "default"
    settings.STACKADMIN_RUN_CONFIG = config(
        {"files": {"backend": "files_db", "table_name": "openai_files"}},
        files_db={"type": "sql_sqlite", "db_path": ":memory:"},
    )
    assert router.db_for_read(File) == "files_db"
    assert router.db_for_write(File) == "files_db"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_write_queues_are_drained_and_rebuilt_when_the_run_config_setting_changes(settings):
    queue = write_queue("responses")
    assert queue.submit_sync(lambda: "committed") == "committed"
    writers = [t for t in threading.enumerate() if t.name.startswith("responses-writer-")]
    assert any(t.is_alive() for t in writers)
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(settings.STACKADMIN_RUN_CONFIG)  # equal, but a change
    assert not any(t.is_alive() for t in writers)
    assert write_queue("responses") is not queue
