"""A live `stackadmin run` whose conversations and files stores live in a fresh PostgreSQL database.

The database gets a unique name and is dropped afterwards (its connections terminated first): the PostgreSQL
server is shared, so nothing else on it is touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.conftest import PG, LiveServer, require_service, unique


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["db"], autocommit=True)


def run_config(database: str) -> str:
    return f"""
storage:
  backends:
    kv_default: {{type: kv_sqlite, db_path: "${{env.STACKADMIN_HOME}}/kvstore.db"}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
    pg: {{type: sql_postgres, host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}}}
  stores:
    conversations: {{backend: pg, table_name: openai_conversations}}
    files: {{backend: pg, table_name: openai_files}}
"""


class PostgresServer:
    def __init__(self, server: LiveServer, database: str, config_path: Path) -> None:
        self.server = server
        self.url = server.url
        self.home = server.home
        self.database = database
        self.config_path = config_path

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=self.database, autocommit=True)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named database on the shared PostgreSQL server, dropped afterwards."""
    require_service("postgres")
    database = unique("sa_")
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield database
    finally:
        with _admin_connection() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{database}"')


@contextlib.contextmanager
def postgres_server(tmp_path_factory, *, workers: int = 2) -> Iterator[PostgresServer]:
    with postgres_database() as database:
        home = tmp_path_factory.mktemp("pg-home")
        config_path = home / "run.yaml"
        config_path.write_text(run_config(database))
        server = LiveServer(home, str(config_path), workers=workers)
        try:
            yield PostgresServer(server, database, config_path)
        finally:
            server.stop()
