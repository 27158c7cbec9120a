"""Fresh PostgreSQL databases on the shared server, and a live `stackadmin run` whose conversations and files
stores live in one.

A database gets a unique name and is dropped afterwards (its connections terminated first): the PostgreSQL
server is shared, so nothing else on it is touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.live_server import LiveServer
from tests.support.names import unique
from tests.support.services import PG, require_service


def connect(database: str = PG["db"], *, autocommit: bool = True) -> psycopg.Connection:
    """A connection to a database on the shared server (by default the one tests create their own tables in)."""
    return psycopg.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=database, autocommit=autocommit)


def drop_table(table: str) -> None:
    """Drop a table a test made in the shared database (a KV store's, named uniquely)."""
    with connect() as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')


TABLES = {
    "conversations": "openai_conversations",
    "files": "openai_files",
    "responses": "openai_responses",
    "inference": "inference_store",
}


def run_config(
    database: str, *, stores: tuple[str, ...] = ("conversations", "files"), options: str = "", backend_options: str = ""
) -> str:
    """A run config's `storage` section with `stores` in `database` on the shared PostgreSQL server (`options`
    is added to each store's mapping, e.g. `, num_writers: 2`, `backend_options` to the backend's, e.g.
    `, pool_size: 1`), the rest on SQLite in the server's home."""
    lines = "".join(f"    {store}: {{backend: pg, table_name: {TABLES[store]}{options}}}\n" for store in stores)
    server = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}{backend_options}'
    return f"""
storage:
  backends:
    kv_default: {{type: kv_sqlite, db_path: "${{env.STACKADMIN_HOME}}/kvstore.db"}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
    pg: {{type: sql_postgres, {server}}}
  stores:
{lines}"""


class PostgresServer:
    def __init__(self, server: LiveServer, database: str, config_path: Path) -> None:
        self.server = server
        self.url = server.url
        self.home = server.home
        self.database = database
        self.config_path = config_path

    def connect(self) -> psycopg.Connection:
        return connect(self.database)


@contextlib.contextmanager
def postgres_database(prefix: str = "sa_") -> Iterator[str]:
    """A fresh, uniquely named database on the shared PostgreSQL server, dropped afterwards."""
    require_service("postgres")
    database = unique(prefix)
    with connect() as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield database
    finally:
        with connect() as admin:
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
