"""KV stores by name, shaped like Django's `caches` handler.

`kv_store("prompts")` returns the backend instance for the store's (backend, namespace), built lazily on
first use from the run config in settings and shared by every caller in the process; when the run config
setting changes, every instance is closed and the next call builds one from the new config (apps.core.handlers).
"""

from __future__ import annotations

from importlib import import_module

from apps.core.handlers import RunConfigHandler
from apps.storage.config import storage_config
from apps.storage.kv.base import BaseKVStore, KVBackendError

__all__ = ["BaseKVStore", "KVBackendError", "build_kv_store", "kv_store", "kv_stores"]

_BACKEND_CLASSES = {
    "kv_memory": "apps.storage.kv.memory.MemoryKVStore",
    "kv_sqlite": "apps.storage.kv.sqlite.SqliteKVStore",
    "kv_postgres": "apps.storage.kv.postgres.PostgresKVStore",
    "kv_redis": "apps.storage.kv.redis.RedisKVStore",
}


def build_kv_store(config, namespace: str | None, *, backend_name: str = "memory") -> BaseKVStore:
    module_path, _, class_name = _BACKEND_CLASSES[config.type].rpartition(".")
    cls = getattr(import_module(module_path), class_name)
    if config.type == "kv_memory":
        return cls(config, namespace, name=backend_name)
    return cls(config, namespace)


class KVStoreHandler(RunConfigHandler[tuple[str, str], BaseKVStore]):
    """One backend instance per (backend, namespace), so stores configured alike share one client."""

    def __getitem__(self, store: str) -> BaseKVStore:  # type: ignore[override]
        storage = storage_config()
        try:
            ref = storage.stores[store]
        except KeyError:
            raise KeyError(f"no KV store named {store!r}; stores: {', '.join(sorted(storage.stores))}") from None
        return super().__getitem__((ref.backend, ref.namespace))

    def bare(self, store: str) -> BaseKVStore:
        """The store's backend without its namespace: for keys written by a server that did not prefix them."""
        return super().__getitem__((storage_config().stores[store].backend, None))

    def create(self, key: tuple[str, str]) -> BaseKVStore:
        backend, namespace = key
        return build_kv_store(storage_config().backends[backend], namespace, backend_name=backend)

    def close(self, instance: BaseKVStore) -> None:
        instance.close()


kv_stores = KVStoreHandler()


def kv_store(store: str) -> BaseKVStore:
    return kv_stores[store]
