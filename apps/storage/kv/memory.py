"""Process-local KV store: the fake for tests, and a throwaway single-process server."""

from __future__ import annotations

import threading
from datetime import datetime

from apps.storage.kv.base import BaseKVStore, Batch

# Shared by every instance in the process, keyed by the physical key, so two instances bound to the same
# (backend, namespace) see the same data, like two connections to a real server would.
_DATA: dict[str, dict[str, tuple[str, datetime | None]]] = {}
_LOCK = threading.RLock()


class MemoryKVStore(BaseKVStore):
    backend_type = "kv_memory"
    inline_reads = True

    def __init__(self, config, namespace, *, name: str = "memory") -> None:
        super().__init__(config, namespace)
        with _LOCK:
            self._data = _DATA.setdefault(name, {})

    def _live(self, physical: str) -> str | None:
        entry = self._data.get(physical)
        if entry is None:
            return None
        value, expiration = entry
        if expiration is not None and expiration <= self._now():
            del self._data[physical]
            return None
        return value

    def get(self, key):
        with _LOCK:
            return self._live(self._physical(key))

    def set(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        with _LOCK:
            self._data[self._physical(key)] = (value, expiration)

    def delete(self, key):
        with _LOCK:
            self._data.pop(self._physical(key), None)

    def items_in_range(self, start, end):
        lo, hi = self._physical(start), self._physical(end)
        with _LOCK:
            keys = sorted(k for k in self._data if lo <= k < hi)
            out = []
            for k in keys:
                value = self._live(k)
                if value is not None:
                    out.append((self._logical(k), value))
            return out

    def set_if_absent(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        physical = self._physical(key)
        with _LOCK:
            if self._live(physical) is not None:
                return False
            self._data[physical] = (value, expiration)
            return True

    def _write_batch(self, batch: Batch) -> bool:
        with _LOCK:
            if any(self._live(self._physical(k)) is not None for k in batch.require_absent):
                return False
            if any(self._live(self._physical(k)) is None for k in batch.require_present):
                return False
            if any(self._live(self._physical(k)) != v for k, v in batch.require_values.items()):
                return False
            for start, end in batch.delete_ranges:
                self.delete_range(start, end)
            for k in batch.deletes:
                self._data.pop(self._physical(k), None)
            for k, v in batch.sets.items():
                self._data[self._physical(k)] = (v, None)
            return True

    def delete_range(self, start, end):
        lo, hi = self._physical(start), self._physical(end)
        with _LOCK:
            doomed = [k for k in self._data if lo <= k < hi]
            live = sum(1 for k in doomed if self._live(k) is not None)
            for k in doomed:
                self._data.pop(k, None)
            return live

    def clear_all(self) -> None:
        """Test helper: forget everything this backend name holds."""
        with _LOCK:
            self._data.clear()
