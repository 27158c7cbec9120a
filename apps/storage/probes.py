"""One short, fresh connection to a storage backend, to tell whether it answers now (`GET /v1/health/ready`).

Each probe opens its own connection rather than borrowing a pooled one: a pool may hold connections that still
look alive to the process while the server behind them is gone, and a probe must not take a connection a request
is waiting for. Every probe gives up after `timeout` seconds and raises `BackendDown` with one line saying why.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path


class BackendDown(Exception):
    """A backend that did not answer; the message is one line naming the reason."""


def probe_backend(backend, *, timeout: float) -> None:
    """Connect to `backend` (a parsed `storage.backends` entry) and run the cheapest statement it has."""
    kind = backend.type
    if kind in ("kv_postgres", "sql_postgres"):
        _probe_postgres(backend, timeout)
    elif kind == "kv_redis":
        probe_redis(backend, timeout=timeout)
    elif kind in ("kv_sqlite", "sql_sqlite"):
        _probe_sqlite(backend.db_path, timeout)
    # kv_memory lives in this process: always there.


def _probe_postgres(backend, timeout: float) -> None:
    import psycopg

    from apps.storage.kv.postgres import conninfo

    try:
        with psycopg.connect(conninfo(backend), connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendDown(f"cannot connect to PostgreSQL at {backend.host}:{backend.port}: {reason}") from None


def probe_redis(backend, *, timeout: float) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        retry=Retry(NoBackoff(), 0),  # one attempt: redis-py otherwise retries a refused connection for seconds
        host=backend.host,
        port=backend.port,
        db=backend.db,
        password=backend.password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BackendDown(f"cannot reach Redis at {backend.host}:{backend.port}: {exc}") from None
    finally:
        client.close()


def _probe_sqlite(db_path: str, timeout: float) -> None:
    if db_path == ":memory:":
        return
    path = Path(db_path)
    if not path.exists():
        # A KV store's file is created on first use: until then, the directory must take it.
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise BackendDown(f"cannot create SQLite database {db_path}: {path.parent} is not a writable directory")
        return
    try:
        # Read-write, never create: a file that vanished meanwhile is a fault here, not something to make.
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, timeout=timeout)) as conn:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise BackendDown(f"cannot open SQLite database {db_path}: {exc}") from None
