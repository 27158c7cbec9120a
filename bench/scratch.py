"""A throwaway home, and a throwaway PostgreSQL database for the responses store, for the benchmarks that run
stackadmin's code in their own process (bench/prompt_usage.py, usage_rollup_writes.py, dashboard_render.py)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

ADMIN = {"host": "127.0.0.1", "user": "postgres", "dbname": "postgres", "autocommit": True}


def use_home(home: str | None = None) -> str:
    """Point this process's settings at `home` (a fresh temporary directory by default) with the built-in config and
    quiet logs, before Django is set up; returns the home."""
    home = home or tempfile.mkdtemp(prefix="stackadmin-bench-")
    os.environ["STACKADMIN_HOME"] = home
    os.environ.pop("STACKADMIN_CONFIG", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")
    os.environ.setdefault("STACKADMIN_LOG_LEVEL", "WARNING")
    return home


def create_database(prefix: str) -> str:
    """A new database on 127.0.0.1:5432 (user postgres), named `<prefix>_<random>`."""
    import psycopg

    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**ADMIN) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    return database


def drop_database(database: str) -> None:
    """Drop a database `create_database` made, after closing this process's connections to it."""
    from django.db import connections

    import psycopg

    connections.close_all()
    with psycopg.connect(**ADMIN) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def postgres_config(home: str, database: str) -> str:
    """A run config in `home` that keeps the responses store in `database` (the rest in SQLite files there)."""
    path = Path(home) / "run.yaml"
    path.write_text(
        f"""
storage:
  backends:
    kv_default: {{type: kv_sqlite, db_path: "{home}/kvstore.db"}}
    sql_default: {{type: sql_sqlite, db_path: "{home}/sql_store.db"}}
    pg: {{type: sql_postgres, host: 127.0.0.1, port: 5432, user: postgres, db: {database}}}
  stores:
    responses: {{backend: pg, table_name: openai_responses}}
"""
    )
    return str(path)
