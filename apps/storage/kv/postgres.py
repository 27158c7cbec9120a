"""kv_postgres: llama-stack's `(key, value, expiration)` table in PostgreSQL, through a psycopg pool."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from apps.storage.kv.base import Batch, TableKVStore, wrap_driver_errors

# Keys compare in code point order everywhere (COLLATE "C"), so ranges mean the same on every backend.
_SCHEMA = 'CREATE TABLE IF NOT EXISTS {table} (key TEXT COLLATE "C" PRIMARY KEY, value TEXT, expiration TIMESTAMPTZ)'
_LIVE = "(expiration IS NULL OR expiration > now())"


def conninfo(config) -> str:
    parts = {"host": config.host, "port": config.port, "dbname": config.db, "user": config.user}
    if config.password:
        parts["password"] = config.password
    if getattr(config, "ssl_mode", None):
        parts["sslmode"] = config.ssl_mode
    if getattr(config, "ca_cert_path", None):
        parts["sslrootcert"] = config.ca_cert_path
    return psycopg.conninfo.make_conninfo(**parts, connect_timeout=5, application_name="stackadmin")


class PostgresKVStore(TableKVStore):
    backend_type = "kv_postgres"
    driver_errors = (psycopg.Error, PoolTimeout)

    def __init__(self, config, namespace) -> None:
        super().__init__(config, namespace)
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._t = sql.Identifier(config.table_name)

    def _configure(self, conn: psycopg.Connection) -> None:
        conn.autocommit = True
        conn.execute("SET TIME ZONE 'UTC'")

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    # One direct connection first: it fails fast when the server is unreachable (a pool would
                    # keep retrying until its timeout) and creates the table, serialised across processes.
                    with psycopg.connect(conninfo(self.config), autocommit=True) as conn, conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.config.table_name,))
                        conn.execute(sql.SQL(_SCHEMA).format(table=self._t))
                    pool = ConnectionPool(
                        conninfo(self.config),
                        min_size=1,
                        max_size=8,
                        timeout=10,
                        configure=self._configure,
                        open=False,
                        name=f"kv:{self.config.table_name}:{self.namespace}",
                    )
                    pool.open(wait=True, timeout=10)
                    self._pool = pool
        return self._pool

    @property
    def location(self) -> str:
        return f"{self.config.host}:{self.config.port}/{self.config.db}"

    def _q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(t=self._t)

    @wrap_driver_errors
    def get(self, key):
        with self.pool.connection() as conn:
            row = conn.execute(
                self._q("SELECT value FROM {t} WHERE key = %s AND " + _LIVE), (self._physical(key),)
            ).fetchone()
        return row[0] if row else None

    @wrap_driver_errors
    def set(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        with self.pool.connection() as conn:
            conn.execute(
                self._q(
                    "INSERT INTO {t} (key, value, expiration) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expiration = EXCLUDED.expiration"
                ),
                (self._physical(key), value, expiration),
            )

    @wrap_driver_errors
    def delete(self, key):
        with self.pool.connection() as conn:
            conn.execute(self._q("DELETE FROM {t} WHERE key = %s"), (self._physical(key),))

    def _range(self, columns: str, start: str, end: str) -> list[tuple]:
        with self.pool.connection() as conn:
            return conn.execute(
                self._q(
                    f'SELECT {columns} FROM {{t}} WHERE key COLLATE "C" >= %s AND key COLLATE "C" < %s AND '
                    + _LIVE
                    + ' ORDER BY key COLLATE "C"'
                ),
                (self._physical(start), self._physical(end)),
            ).fetchall()

    def _insert_if_absent(self, conn, key: str, value: str, expiration) -> bool:
        cur = conn.execute(
            self._q(
                "INSERT INTO {t} (key, value, expiration) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expiration = EXCLUDED.expiration "
                "WHERE {t}.expiration IS NOT NULL AND {t}.expiration <= now()"
            ),
            (self._physical(key), value, expiration),
        )
        return cur.rowcount == 1

    @wrap_driver_errors
    def set_if_absent(self, key, value, expiration=None):
        self._check_entry(value, expiration)
        with self.pool.connection() as conn:
            return self._insert_if_absent(conn, key, value, expiration)

    def _conditions_hold(
        self, conn, sets: Mapping[str, str], absent: list[str], present: list[str], values: Mapping[str, str]
    ) -> bool:
        """Check a batch's conditions inside its transaction, taking the locks that keep them true until commit."""
        # A required key is locked first, in one order: a concurrent delete of it waits for our commit (and then
        # sees what we wrote beside it), or we wait for its commit and find the key gone (or changed).
        for key in sorted({*present, *values}):
            row = conn.execute(
                self._q("SELECT value FROM {t} WHERE key = %s AND " + _LIVE + " FOR UPDATE"), (self._physical(key),)
            ).fetchone()
            if row is None or (key in values and row[0] != values[key]):
                return False
        # Keys we also write are claimed by an atomic insert; the row lock it takes makes any concurrent claimant
        # wait for our commit and then see the key as present.
        for key in absent:
            if key in sets:
                if not self._insert_if_absent(conn, key, sets[key], None):
                    return False
                continue
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._physical(key),))
            row = conn.execute(self._q("SELECT 1 FROM {t} WHERE key = %s AND " + _LIVE), (self._physical(key),))
            if row.fetchone():
                return False
        return True

    def _delete_range(self, conn, start: str, end: str) -> int:
        """Delete [start, end) inside the caller's transaction; how many live keys went.

        A DELETE that waited for a batch holding a row of the range (one that required that key) ran on a snapshot
        from before that batch committed, so it missed what the batch inserted beside the row (READ COMMITTED).
        So passes repeat until one finds nothing: each pass sees every commit before it began, and the rows already
        deleted stay locked until our commit, so no batch requiring them can commit in between."""
        removed = 0
        while True:
            rows = conn.execute(
                self._q(
                    'DELETE FROM {t} WHERE key COLLATE "C" >= %s AND key COLLATE "C" < %s '
                    "RETURNING (expiration IS NULL OR expiration > now())"
                ),
                (self._physical(start), self._physical(end)),
            ).fetchall()
            if not rows:
                return removed
            removed += sum(1 for (live,) in rows if live)

    @wrap_driver_errors
    def _write_batch(self, batch: Batch) -> bool:
        sets, absent, present = batch.sets, list(batch.require_absent), list(batch.require_present)
        with self.pool.connection() as conn:
            try:
                with conn.transaction():
                    if not self._conditions_hold(conn, sets, absent, present, batch.require_values):
                        raise _Abort
                    for start, end in batch.delete_ranges:
                        self._delete_range(conn, start, end)
                    with conn.cursor() as cur:
                        cur.executemany(
                            self._q("DELETE FROM {t} WHERE key = %s"), [(self._physical(k),) for k in batch.deletes]
                        )
                        rest = [(self._physical(k), v) for k, v in sets.items() if k not in absent]
                        cur.executemany(
                            self._q(
                                "INSERT INTO {t} (key, value, expiration) VALUES (%s, %s, NULL) "
                                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expiration = NULL"
                            ),
                            rest,
                        )
            except _Abort:
                return False
        return True

    @wrap_driver_errors
    def delete_range(self, start, end):
        with self.pool.connection() as conn, conn.transaction():
            return self._delete_range(conn, start, end)

    def close(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None


class _Abort(Exception):
    """Raised inside a transaction to roll it back when a batch's condition does not hold."""
