"""Django database aliases derived from the run config: one alias per `sql_*` backend a store uses.

Stores that name the same backend share its alias, hence its connections. Django's own tables (users,
sessions, admin log, API keys) live on the `default` alias: the backend named `sql_default` when it is
declared, else the backend of the `conversations` store.
"""

from __future__ import annotations

from apps.storage.config import SqlPostgresBackend, SqlSqliteBackend, SqlStoreRef, StorageConfig

# Which store holds each app's models. Apps not listed here use the `default` alias.
APP_STORES = {
    "conversations": "conversations",
    "responses": "responses",
    "files": "files",
    "inference": "inference",
    # django-tasks' database backend: background responses' tasks live beside the responses they compute.
    "django_tasks_database": "responses",  # django-tasks-db's app label
}


def backend_aliases(storage: StorageConfig) -> dict[str, str]:
    """Map each SQL backend used by a store to its Django database alias."""
    used = [ref.backend for ref in storage.stores.values() if isinstance(ref, SqlStoreRef)]
    default = "sql_default" if "sql_default" in used else storage.stores["conversations"].backend
    return {name: ("default" if name == default else name) for name in dict.fromkeys(used)}


def store_alias(storage: StorageConfig, store: str) -> str:
    return backend_aliases(storage)[storage.stores[store].backend]


def database_settings(backend) -> dict:
    if isinstance(backend, SqlSqliteBackend):
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": backend.db_path,
            "CONN_MAX_AGE": None,  # opening a file and running the PRAGMAs per request costs more than the query
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            },
            "TEST": {"NAME": None},
        }
    if isinstance(backend, SqlPostgresBackend):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": backend.db,
            "USER": backend.user,
            "PASSWORD": backend.password or "",
            "HOST": backend.host,
            "PORT": str(backend.port),
            "CONN_MAX_AGE": 0,  # the pool keeps connections; Django must hand them back after each request
            "OPTIONS": {
                "pool": {
                    "min_size": 1,
                    "max_size": backend.pool_size + backend.max_overflow,
                    "timeout": 10,
                    "max_lifetime": backend.pool_recycle if backend.pool_recycle > 0 else 3600,
                },
                "connect_timeout": 5,
            },
        }
    raise TypeError(f"not a SQL backend: {backend!r}")


def django_databases(storage: StorageConfig) -> dict[str, dict]:
    aliases = backend_aliases(storage)
    return {alias: database_settings(storage.backends[name]) for name, alias in aliases.items()}
