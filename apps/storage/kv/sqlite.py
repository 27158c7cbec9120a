"""kv_sqlite: llama-stack's `kvstore(key, value, expiration)` table in a SQLite file."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from datetime import UTC, datetime

from apps.storage.kv.base import Batch, TableKVStore, wrap_driver_errors

_SCHEMA = "CREATE TABLE IF NOT EXISTS kvstore (key TEXT PRIMARY KEY, value TEXT, expiration TIMESTAMP)"


# SQLite has one writer at a time, and a writer that finds the database locked falls into SQLite's busy handler,
# which sleeps in steps of up to 100 ms: under concurrent writes that made a prompt create's p99 half a second.
# So writers queue on locks that wake the next one as soon as the lock is free: a thread lock among the threads of
# one process, then an exclusive flock on `<db>.lock` among processes (worker processes share the file).
class _WriteLock:
    def __init__(self, path: str) -> None:
        self._threads = threading.Lock()
        self._path = None if path == ":memory:" else path + ".lock"
        self._fd: int | None = None

    def __enter__(self):
        self._threads.acquire()
        if self._path is not None:
            try:
                if self._fd is None:
                    os.makedirs(os.path.dirname(os.path.abspath(self._path)), exist_ok=True)
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        return self

    def __exit__(self, *exc):
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()
        return False


_WRITE_LOCKS: dict[str, _WriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: str) -> _WriteLock:
    key = path if path == ":memory:" else os.path.abspath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, _WriteLock(key))


def _ts(moment: datetime) -> str:
    """Expirations are stored as UTC text in the format Python's sqlite3 adapter wrote for llama-stack."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqliteKVStore(TableKVStore):
    backend_type = "kv_sqlite"
    inline_reads = True
    driver_errors = (sqlite3.Error, OSError)

    def __init__(self, config, namespace) -> None:
        super().__init__(config, namespace)
        self._local = threading.local()
        self._memory_lock = threading.RLock() if config.db_path == ":memory:" else None
        self._shared: sqlite3.Connection | None = None
        self._writing = _write_lock(config.db_path)

    @property
    def location(self) -> str:
        return self.config.db_path

    def _connect(self) -> sqlite3.Connection:
        path = self.config.db_path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=path != ":memory:")
        conn.execute("PRAGMA busy_timeout=30000")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SCHEMA)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._memory_lock is not None:  # one connection holds the whole :memory: database
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _lock(self):
        return self._memory_lock or _NoLock

    @wrap_driver_errors
    def get(self, key):
        with self._lock():
            row = self._conn.execute(
                "SELECT value FROM kvstore WHERE key = ? AND (expiration IS NULL OR expiration > ?)",
                (self._physical(key), _ts(self._now())),
            ).fetchone()
        return row[0] if row else None

    @wrap_driver_errors
    def set(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        with self._writing, self._lock():
            self._conn.execute(
                "INSERT INTO kvstore (key, value, expiration) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration",
                (self._physical(key), value, _ts(expiration) if expiration else None),
            )

    @wrap_driver_errors
    def delete(self, key):
        with self._writing, self._lock():
            self._conn.execute("DELETE FROM kvstore WHERE key = ?", (self._physical(key),))

    def _range(self, columns: str, start: str, end: str) -> list[tuple]:
        with self._lock():
            return self._conn.execute(
                f"SELECT {columns} FROM kvstore WHERE key >= ? AND key < ? "
                "AND (expiration IS NULL OR expiration > ?) ORDER BY key",
                (self._physical(start), self._physical(end), _ts(self._now())),
            ).fetchall()

    @wrap_driver_errors
    def set_if_absent(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        now = _ts(self._now())
        with self._writing, self._lock():
            cur = self._conn.execute(
                "INSERT INTO kvstore (key, value, expiration) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration "
                "WHERE kvstore.expiration IS NOT NULL AND kvstore.expiration <= ?",
                (self._physical(key), value, _ts(expiration) if expiration else None, now),
            )
            return cur.rowcount == 1

    def _live_value(self, conn: sqlite3.Connection, key: str, now: str) -> str | None:
        row = conn.execute(
            "SELECT value FROM kvstore WHERE key = ? AND (expiration IS NULL OR expiration > ?)",
            (self._physical(key), now),
        ).fetchone()
        return None if row is None else row[0]

    def _holds(self, conn: sqlite3.Connection, key: str, now: str) -> bool:
        return self._live_value(conn, key, now) is not None

    def _conditions_hold(self, conn: sqlite3.Connection, batch: Batch, now: str) -> bool:
        return (
            not any(self._holds(conn, k, now) for k in batch.require_absent)
            and all(self._holds(conn, k, now) for k in batch.require_present)
            and all(self._live_value(conn, k, now) == v for k, v in batch.require_values.items())
        )

    def _delete_range(self, conn: sqlite3.Connection, start: str, end: str) -> int:
        cur = conn.execute(
            "DELETE FROM kvstore WHERE key >= ? AND key < ? RETURNING expiration",
            (self._physical(start), self._physical(end)),
        )
        now = _ts(self._now())
        return sum(1 for (exp,) in cur.fetchall() if exp is None or exp > now)

    @wrap_driver_errors
    def _write_batch(self, batch: Batch) -> bool:
        now = _ts(self._now())
        # One writer at a time (the write lock, then BEGIN IMMEDIATE): the checks and the writes are one step.
        with self._writing, self._lock():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not self._conditions_hold(conn, batch, now):
                    conn.execute("ROLLBACK")
                    return False
                for start, end in batch.delete_ranges:
                    self._delete_range(conn, start, end)
                conn.executemany("DELETE FROM kvstore WHERE key = ?", [(self._physical(k),) for k in batch.deletes])
                conn.executemany(
                    "INSERT INTO kvstore (key, value, expiration) VALUES (?, ?, NULL) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = NULL",
                    [(self._physical(k), v) for k, v in batch.sets.items()],
                )
                conn.execute("COMMIT")
                return True
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @wrap_driver_errors
    def delete_range(self, start, end):
        with self._writing, self._lock():
            return self._delete_range(self._conn, start, end)

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None


class _NoLockType:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NoLock = _NoLockType()
