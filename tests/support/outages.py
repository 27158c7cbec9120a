"""Stores that fail for real, for the tests of what a caller is told then: no mocks, the database itself refuses."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tests.support.postgres import connect


def refuse_inserts(db_path: Path, table: str) -> None:
    """From now on the SQLite database at `db_path` refuses every new row of `table` (a trigger aborts the insert),
    also for the connections a running server already holds."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as conn, conn:
        conn.execute(
            f'CREATE TRIGGER "refuse_{table}" BEFORE INSERT ON "{table}" '
            "BEGIN SELECT RAISE(ABORT, 'inserts refused by the test'); END"
        )


def cut_off(database: str) -> None:
    """Take a PostgreSQL database away from its clients, as an outage would: its open connections are terminated
    and new ones refused (until the database is dropped)."""
    with connect() as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
