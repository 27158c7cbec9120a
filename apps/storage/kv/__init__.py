"""KV stores by name, shaped like Django's `caches` handler.

`kv_store("prompts")` returns the backend instance for the store's (backend, namespace), built lazily on
first use from the run config in settings and shared by every caller in the process.
"""

from __future__ import annotations

import threading
from importlib import import_module

from django.conf import settings

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


class KVStoreHandler:
    def __init__(self) -> None:
        self._instances: dict[tuple[str, str], BaseKVStore] = {}
        self._lock = threading.Lock()

    def __getitem__(self, store: str) -> BaseKVStore:
        storage = settings.STACKADMIN_RUN_CONFIG.storage
        try:
            ref = storage.stores[store]
        except KeyError:
            raise KeyError(f"no KV store named {store!r}; stores: {', '.join(sorted(storage.stores))}") from None
        key = (ref.backend, ref.namespace)
        instance = self._instances.get(key)
        if instance is None:
            with self._lock:
                instance = self._instances.get(key)
                if instance is None:
                    config = storage.backends[ref.backend]
                    instance = build_kv_store(config, ref.namespace, backend_name=ref.backend)
                    self._instances[key] = instance
        return instance

    def close_all(self) -> None:
        with self._lock:
            for instance in self._instances.values():
                instance.close()
            self._instances.clear()


kv_stores = KVStoreHandler()


def kv_store(store: str) -> BaseKVStore:
    return kv_stores[store]
