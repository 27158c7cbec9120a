"""The key-value contract every backend implements (shaped like Django's cache backends).

Keys and values are strings. A backend instance is bound to one namespace: it stores `<namespace>:<key>`
(llama-stack's layout, so an existing llama-stack store can be read) and hands back logical keys with the
namespace stripped. Range reads are half-open `[start, end)`, sorted by key (code point order, which is the
byte order of UTF-8 on every backend), and never show expired entries.

The atomic primitives exist so callers can allocate things (prompt version numbers) without races:
`set_if_absent` for one key and `write_batch` for several keys that must appear together or not at all. A batch
may also require keys to be present, which fences it against a concurrent deletion of those keys (a prompt
update against the prompt's delete), and may delete whole ranges (the prompt's delete itself).
Driver errors are wrapped in `KVBackendError`, never swallowed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from apps.core import metrics

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Batch:
    """What one `write_batch` call asks for, checked and de-duplicated, as every backend receives it."""

    sets: dict[str, str]
    require_absent: tuple[str, ...]
    require_present: tuple[str, ...]
    require_values: dict[str, str]
    deletes: tuple[str, ...]
    delete_ranges: tuple[tuple[str, str], ...]


class KVBackendError(Exception):
    """A storage driver failed (connection refused, timeout, constraint error...)."""


def wrap_driver_errors(method: F) -> F:
    """`method` raising `KVBackendError`, naming the backend and where it is, for its driver's `driver_errors`."""

    @functools.wraps(method)
    def wrapper(self: BaseKVStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except self.driver_errors as exc:
            metrics.kv_error(self.backend_type)
            raise KVBackendError(f"{self.backend_type} {self.location}: {exc}".strip()) from exc

    return wrapper  # type: ignore[return-value]


class BaseKVStore:
    """The contract. Subclasses implement the sync methods; async twins default to a worker thread."""

    backend_type = "base"
    # True when a read is a local call of a few microseconds (SQLite file, process memory): async callers may
    # run it inline instead of paying for a hop to a worker thread. Network backends leave this False.
    inline_reads = False
    # What the driver raises when it fails; methods marked `wrap_driver_errors` raise them as `KVBackendError`.
    driver_errors: tuple[type[Exception], ...] = ()

    @property
    def location(self) -> str:
        """Where the data is (a server, a file), for error messages."""
        return ""

    def __init__(self, config: Any, namespace: str | None) -> None:
        self.config = config
        self.namespace = namespace or None
        self._prefix = f"{namespace}:" if namespace else ""

    # -- key helpers shared by every backend
    def _physical(self, key: str) -> str:
        if not isinstance(key, str):
            raise TypeError(f"KV keys are strings, got {type(key).__name__}")
        return self._prefix + key

    def _logical(self, physical: str) -> str:
        return physical[len(self._prefix) :]

    @staticmethod
    def _check_value(value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"KV values are strings, got {type(value).__name__}")

    @classmethod
    def _check_entry(cls, value: str, expiration: datetime | None) -> None:
        """What `set` and `set_if_absent` accept: a string, and an expiration that names its time zone."""
        cls._check_value(value)
        if expiration is not None and expiration.tzinfo is None:
            raise ValueError("expiration must be a timezone-aware datetime")

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    # -- the contract
    def get(self, key: str) -> str | None:
        raise NotImplementedError("subclasses of BaseKVStore must provide a get() method")

    def set(self, key: str, value: str, expiration: datetime | None = None) -> None:
        raise NotImplementedError("subclasses of BaseKVStore must provide a set() method")

    def delete(self, key: str) -> None:
        raise NotImplementedError("subclasses of BaseKVStore must provide a delete() method")

    def items_in_range(self, start: str, end: str) -> list[tuple[str, str]]:
        """(key, value) pairs with start <= key < end, sorted by key."""
        raise NotImplementedError("subclasses of BaseKVStore must provide an items_in_range() method")

    def set_if_absent(self, key: str, value: str, expiration: datetime | None = None) -> bool:
        """Write `value` only if `key` holds nothing (or only an expired entry). True when this call wrote it."""
        raise NotImplementedError("subclasses of BaseKVStore must provide a set_if_absent() method")

    def write_batch(
        self,
        sets: Mapping[str, str],
        *,
        require_absent: Iterable[str] = (),
        require_present: Iterable[str] = (),
        require_values: Mapping[str, str] | None = None,
        deletes: Iterable[str] = (),
        delete_ranges: Iterable[tuple[str, str]] = (),
    ) -> bool:
        """All-or-nothing: if every key in `require_absent` is absent, every key in `require_present` holds a
        live value and every key in `require_values` holds exactly the value given, delete every key in the
        `delete_ranges` (half-open, as `delete_range`), then `deletes`, then apply `sets`, and return True;
        otherwise change nothing and return False.

        Against concurrent writers a batch is one indivisible step: a batch requiring a key that a concurrent
        batch or `delete_range` removes either happened wholly before the removal (and then a range removal also
        removes what the batch wrote in that range) or changes nothing. Keep to one required-present key per
        batch where batches contend (a backend may lock it until commit)."""
        for value in sets.values():
            self._check_value(value)
        batch = Batch(
            sets=dict(sets),
            require_absent=tuple(dict.fromkeys(require_absent)),
            require_present=tuple(dict.fromkeys(require_present)),
            require_values=dict(require_values or {}),
            deletes=tuple(deletes),
            delete_ranges=tuple(delete_ranges),
        )
        return self._write_batch(batch)

    def _write_batch(self, batch: Batch) -> bool:
        """`write_batch` once its arguments are checked: the backend's one indivisible step."""
        raise NotImplementedError("subclasses of BaseKVStore must provide a _write_batch() method")

    def delete_range(self, start: str, end: str) -> int:
        """Delete every key in [start, end) atomically, including what a batch that required one of them present
        wrote in the range before it; returns how many live keys were removed."""
        raise NotImplementedError("subclasses of BaseKVStore must provide a delete_range() method")

    def close(self) -> None:
        """Release connections. The instance may be used again afterwards (it reconnects lazily)."""

    # -- derived reads
    def keys_in_range(self, start: str, end: str) -> list[str]:
        return [k for k, _ in self.items_in_range(start, end)]

    def values_in_range(self, start: str, end: str) -> list[str]:
        return [v for _, v in self.items_in_range(start, end)]

    # -- async twins
    async def aget(self, key: str) -> str | None:
        return await sync_to_async(self.get, thread_sensitive=False)(key)

    async def aset(self, key: str, value: str, expiration: datetime | None = None) -> None:
        return await sync_to_async(self.set, thread_sensitive=False)(key, value, expiration)

    async def adelete(self, key: str) -> None:
        return await sync_to_async(self.delete, thread_sensitive=False)(key)

    async def aitems_in_range(self, start: str, end: str) -> list[tuple[str, str]]:
        return await sync_to_async(self.items_in_range, thread_sensitive=False)(start, end)

    async def akeys_in_range(self, start: str, end: str) -> list[str]:
        return [k for k, _ in await self.aitems_in_range(start, end)]

    async def avalues_in_range(self, start: str, end: str) -> list[str]:
        return [v for _, v in await self.aitems_in_range(start, end)]

    async def aset_if_absent(self, key: str, value: str, expiration: datetime | None = None) -> bool:
        return await sync_to_async(self.set_if_absent, thread_sensitive=False)(key, value, expiration)

    async def awrite_batch(self, sets: Mapping[str, str], **conditions: Iterable) -> bool:
        """`write_batch`, with the same keyword arguments, on a worker thread."""
        return await sync_to_async(self.write_batch, thread_sensitive=False)(dict(sets), **conditions)

    async def adelete_range(self, start: str, end: str) -> int:
        return await sync_to_async(self.delete_range, thread_sensitive=False)(start, end)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} namespace={self.namespace!r}>"


class TableKVStore(BaseKVStore):
    """A backend on llama-stack's `(key, value, expiration)` SQL table (kv_sqlite, kv_postgres), whose range reads
    select only the columns they need."""

    def _range(self, columns: str, start: str, end: str) -> list[tuple]:
        """`columns` of the live rows with start <= key < end, sorted by key."""
        raise NotImplementedError("subclasses of TableKVStore must provide a _range() method")

    @wrap_driver_errors
    def items_in_range(self, start: str, end: str) -> list[tuple[str, str]]:
        return [(self._logical(k), v) for k, v in self._range("key, value", start, end)]

    @wrap_driver_errors
    def keys_in_range(self, start: str, end: str) -> list[str]:
        return [self._logical(k) for (k,) in self._range("key", start, end)]
