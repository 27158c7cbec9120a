from __future__ import annotations

import psycopg
import pytest

from apps.storage.config import KVRedisBackend
from apps.storage.kv import build_kv_store, kv_stores
from stackadmin.config import parse_config
from tests.conftest import PG, REDIS, require_service, unique


def backend_config(kind: str, tmp_path) -> dict:
    if kind == "sqlite":
        return {"type": "kv_sqlite", "db_path": str(tmp_path / "prompts-kv.db")}
    if kind == "postgres":
        require_service("postgres")
        return {
            "type": "kv_postgres",
            "host": PG["host"],
            "port": PG["port"],
            "db": PG["db"],
            "user": PG["user"],
            "table_name": unique("kv_prompts_"),
        }
    if kind == "redis":
        require_service("redis")
        return {"type": "kv_redis", "host": REDIS["host"], "port": REDIS["port"]}
    return {"type": "kv_memory"}


@pytest.fixture
def prompts_backend(request, tmp_path, settings):
    """Point the `prompts` store at the backend named by the test's parameter (a fresh namespace/table)."""
    kind = getattr(request, "param", "sqlite")
    backend = backend_config(kind, tmp_path)
    namespace = unique("prompts_")
    settings.STACKADMIN_RUN_CONFIG = parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_memory"},
                    "prompts_backend": backend,
                    "sql_default": {"type": "sql_sqlite", "db_path": ":memory:"},
                },
                "stores": {"prompts": {"backend": "prompts_backend", "namespace": namespace}},
            }
        },
        source="tests",
        home=str(tmp_path),
    )
    yield kind
    kv_stores["prompts"].delete_range("", "\U0010ffff")
    if kind == "postgres":  # the store's pooled connections are idle in autocommit: they hold no lock on the table
        with psycopg.connect(host=PG["host"], port=PG["port"], dbname=PG["db"], user=PG["user"]) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{backend["table_name"]}"')


def redis_events_config(namespace: str) -> str:
    """A run config whose prompts live in Redis (shared by worker processes) and whose live-update events go
    through Redis too (`server.channel_layer`)."""
    return f"""
storage:
  backends:
    shared: {{type: kv_redis, host: {REDIS["host"]}, port: {REDIS["port"]}}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
  stores:
    prompts: {{backend: shared, namespace: {namespace}}}
    metadata: {{backend: shared, namespace: {namespace}_registry}}
server:
  channel_layer: {{backend: shared}}
"""


@pytest.fixture
def redis_namespace(redis_service):
    """A fresh Redis namespace for a server's prompts, emptied afterwards."""
    namespace = unique("live_")
    yield namespace
    for ns in (namespace, f"{namespace}_registry"):
        store = build_kv_store(KVRedisBackend(type="kv_redis", host=REDIS["host"], port=REDIS["port"]), ns)
        store.delete_range("", "\U0010ffff")
        store.close()
