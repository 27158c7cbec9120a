"""Process-wide objects built from the run config, on Django's connection-handler pattern.

Django keeps caches and database connections in handlers (`django.core.cache.caches`, `django.db.connections`,
both `django.utils.connection.BaseConnectionHandler`): an object per name, built on first use from a setting, and
forgotten by a `setting_changed` receiver (`django/test/signals.py`) when that setting changes, so a test that
overrides the setting gets objects built from its value. `RunConfigHandler` does the same for what stackadmin
builds from `STACKADMIN_RUN_CONFIG`: KV clients, store write queues, database aliases, inference registries,
prompt indexes. A test switches the run config with pytest-django's `settings` fixture (or `override_settings`)
and every handler starts afresh; nothing is keyed on the identity of a config object.

It follows the pattern rather than subclassing `BaseConnectionHandler`, for two reasons:

- Django's handler keeps an object per thread or async context (asgiref `Local`), right for a database
  connection; here one object serves the whole process, since a KV client holds a connection pool, a write queue
  its writer threads, a prompt index what every request lists from.
- its keys are aliases listed in the setting and stored as attributes; here a key is any hashable value derived
  from the run config (a (backend, namespace) pair, an event loop's id).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from django.core.signals import setting_changed

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RunConfigHandler(Generic[K, V]):
    """One instance per key for the whole process, built by `create` on first use, forgotten (and closed) when one
    of `setting_names` changes."""

    setting_names: frozenset[str] = frozenset({"STACKADMIN_RUN_CONFIG"})

    def __init__(self) -> None:
        self._instances: dict[K, V] = {}
        self._lock = threading.Lock()
        # A bound method is held weakly; the handler is a module-level object, so it lives as long as the process.
        setting_changed.connect(self._setting_changed)

    def create(self, key: K) -> V:
        raise NotImplementedError("subclasses of RunConfigHandler must provide a create() method")

    def close(self, instance: V) -> None:
        """Release what an instance holds once the handler has forgotten it (nothing, unless overridden)."""

    def __getitem__(self, key: K) -> V:
        try:
            return self._instances[key]
        except KeyError:
            pass
        with self._lock:
            instance = self._instances.get(key)
            if instance is None:
                instance = self._instances[key] = self.create(key)
        return instance

    def pop(self, key: K) -> V | None:
        """Forget one instance without closing it; the caller closes it (where it must be closed)."""
        with self._lock:
            return self._instances.pop(key, None)

    def all(self) -> list[V]:
        with self._lock:
            return list(self._instances.values())

    def close_all(self) -> None:
        """Forget every instance and close it; the next lookup builds a new one from the current settings."""
        with self._lock:
            instances = list(self._instances.values())
            self._instances.clear()
        for instance in instances:
            self.close(instance)

    def _setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in self.setting_names:
            self.close_all()
