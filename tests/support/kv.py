"""KV backends on the local services for tests that point a store at one, and the cleanup after them."""

from __future__ import annotations

from apps.storage.config import KVRedisBackend
from apps.storage.kv import build_kv_store
from apps.storage.kv.sqlite import SqliteKVStore
from tests.support.names import unique
from tests.support.services import PG, REDIS, require_service


def backend_config(kind: str, tmp_path) -> dict:
    """The run-config entry of a KV backend of `kind` (`sqlite`, `postgres`, `redis`, else memory); a PostgreSQL
    one gets a table of its own."""
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


def empty_redis_namespace(namespace: str) -> None:
    """Delete every key of a namespace on the shared Redis server."""
    store = build_kv_store(KVRedisBackend(type="kv_redis", host=REDIS["host"], port=REDIS["port"]), namespace)
    store.delete_range("", "\U0010ffff")
    store.close()


class ReadLoggingSqliteKVStore(SqliteKVStore):
    """kv_sqlite that logs every read it serves as (method, key or range start, values handed back), for a test
    that registers it as the `kv_sqlite` backend class to see what a code path reads."""

    def __init__(self, config, namespace) -> None:
        super().__init__(config, namespace)
        self.reads: list[tuple[str, str, int]] = []

    def get(self, key):
        value = super().get(key)
        self.reads.append(("get", key, 0 if value is None else 1))
        return value

    def items_in_range(self, start, end):
        items = super().items_in_range(start, end)
        self.reads.append(("items_in_range", start, len(items)))
        return items

    def keys_in_range(self, start, end):
        keys = super().keys_in_range(start, end)
        self.reads.append(("keys_in_range", start, len(keys)))
        return keys
