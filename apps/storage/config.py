"""The run config's `storage` section: llama-stack's named backends, and the stores that reference them by name.

`stackadmin/config.py` hands the section to `parse_storage`; the rest of the process reads the result through
`storage_config()`. Every mistake raises `ConfigError` with one line naming the path of the offending value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from django.conf import settings

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from apps.core.config import ConfigError, validation_message


# ------------------------------------------------------------------------------------------ backends
class _Backend(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def family(self) -> str:
        return self.type.split("_", 1)[0]  # type: ignore[attr-defined]


def _expand(path: str) -> str:
    return path if path == ":memory:" else os.path.expanduser(path)


class _SqliteFileBackend(_Backend):
    db_path: str

    @field_validator("db_path")
    @classmethod
    def _expand_path(cls, value: str) -> str:
        return _expand(value)


class KVSqliteBackend(_SqliteFileBackend):
    type: Literal["kv_sqlite"]
    namespace: str | None = None


class _PostgresServer(_Backend):
    """Where a PostgreSQL backend connects (llama-stack's defaults)."""

    host: str = "localhost"
    port: int = 5432
    db: str = "ogx"
    user: str
    password: str | None = None


class KVPostgresBackend(_PostgresServer):
    type: Literal["kv_postgres"]
    ssl_mode: str | None = None
    ca_cert_path: str | None = None
    table_name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=62)] = "ogx_kvstore"
    namespace: str | None = None


class KVRedisBackend(_Backend):
    type: Literal["kv_redis"]
    host: str = "localhost"
    port: int = 6379
    db: int = 0
    password: str | None = None
    namespace: str | None = None


class KVMemoryBackend(_Backend):
    """Process-local; for tests and throwaway single-process servers only."""

    type: Literal["kv_memory"]
    namespace: str | None = None


class SqlSqliteBackend(_SqliteFileBackend):
    type: Literal["sql_sqlite"]
    pool_pre_ping: bool = True


class SqlPostgresBackend(_PostgresServer):
    type: Literal["sql_postgres"]
    pool_size: Annotated[int, Field(ge=1)] = 10
    max_overflow: Annotated[int, Field(ge=0)] = 20
    pool_recycle: int = -1
    pool_pre_ping: bool = True


Backend = Annotated[
    KVSqliteBackend | KVPostgresBackend | KVRedisBackend | KVMemoryBackend | SqlSqliteBackend | SqlPostgresBackend,
    Field(discriminator="type"),
]
_BACKEND_ADAPTER: TypeAdapter = TypeAdapter(Backend)
BACKEND_TYPES = ("kv_sqlite", "kv_postgres", "kv_redis", "kv_memory", "sql_sqlite", "sql_postgres")


# ------------------------------------------------------------------------------------------ stores
class KVStoreRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: str
    namespace: str


class SqlStoreRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    backend: str
    table_name: str
    max_write_queue_size: Annotated[int, Field(ge=1)] = 10000
    num_writers: Annotated[int, Field(ge=1)] = 4


@dataclass(frozen=True)
class StoreSpec:
    family: Literal["kv", "sql"]
    default_backend: str
    default_name: str  # namespace for kv stores, table name for sql stores


# The stores stackadmin uses. Table names are the ones our migrations create: a configured `table_name`
# must name that table (a different one is rejected, never silently ignored).
STORES: dict[str, StoreSpec] = {
    "metadata": StoreSpec("kv", "kv_default", "registry"),
    "prompts": StoreSpec("kv", "kv_default", "prompts"),
    "inference": StoreSpec("sql", "sql_default", "inference_store"),
    "conversations": StoreSpec("sql", "sql_default", "openai_conversations"),
    "responses": StoreSpec("sql", "sql_default", "openai_responses"),
    "files": StoreSpec("sql", "sql_default", "openai_files"),
}


@dataclass(frozen=True)
class StorageConfig:
    backends: dict[str, Any]
    stores: dict[str, KVStoreRef | SqlStoreRef]

    def backend_of(self, store: str) -> Any:
        return self.backends[self.stores[store].backend]


def storage_config() -> StorageConfig:
    """The storage section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.storage


def default_storage(home: str) -> dict:
    """The storage section of the built-in default: SQLite files under the home directory."""
    return {
        "backends": {
            "kv_default": {"type": "kv_sqlite", "db_path": os.path.join(home, "kvstore.db")},
            "sql_default": {"type": "sql_sqlite", "db_path": os.path.join(home, "sql_store.db")},
        },
        "stores": {},
    }


def _pydantic_message(prefix: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    if err["type"] == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", err["input"])
        return f"{prefix}.type: unknown backend type {tag!r}; supported: {', '.join(BACKEND_TYPES)}"
    if err["type"] == "union_tag_not_found":
        return f"{prefix}.type: required field is missing; supported: {', '.join(BACKEND_TYPES)}"
    return validation_message(prefix, exc, hidden=BACKEND_TYPES)


def parse_storage(raw: Any) -> StorageConfig:
    if not isinstance(raw, dict):
        raise ConfigError("storage: must be a mapping with 'backends' and 'stores'")
    backends = _parse_backends(raw.get("backends") or {})
    raw_stores = raw.get("stores") or {}
    if not isinstance(raw_stores, dict):
        raise ConfigError("storage.stores: must be a mapping of store name to a backend reference")
    declared = ", ".join(sorted(backends)) or "none"
    stores = {name: _parse_store(name, spec, raw_stores.get(name), backends, declared) for name, spec in STORES.items()}
    _check_other_stores(raw_stores, backends, declared)
    return StorageConfig(backends=backends, stores=stores)


def _parse_backends(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError("storage.backends: must be a mapping of backend name to backend config")
    backends: dict[str, Any] = {}
    for name, cfg in raw.items():
        path = f"storage.backends.{name}"
        if not isinstance(cfg, dict):
            raise ConfigError(f"{path}: must be a mapping with a 'type'")
        try:
            backends[str(name)] = _BACKEND_ADAPTER.validate_python(cfg)
        except ValidationError as exc:
            raise ConfigError(_pydantic_message(path, exc)) from None
    return backends


def _parse_store(name: str, spec: StoreSpec, ref_raw: Any, backends: dict, declared: str) -> KVStoreRef | SqlStoreRef:
    """One of the stores stackadmin uses; left out, it takes its default backend (which must then be declared)."""
    path = f"storage.stores.{name}"
    if ref_raw is None:
        if spec.default_backend not in backends:
            raise ConfigError(
                f"{path} is not set and its default backend '{spec.default_backend}' is not declared "
                f"(declared: {declared}); add a {path} entry"
            )
        ref_raw = {"backend": spec.default_backend, _name_field(spec): spec.default_name}
    if not isinstance(ref_raw, dict):
        raise ConfigError(f"{path}: must be a mapping with 'backend' and '{_name_field(spec)}'")
    model = KVStoreRef if spec.family == "kv" else SqlStoreRef
    try:
        ref = model.model_validate(ref_raw)
    except ValidationError as exc:
        raise ConfigError(_pydantic_message(path, exc)) from None
    _check_backend_ref(path, ref.backend, spec.family, backends, declared)
    if isinstance(ref, SqlStoreRef) and ref.table_name != spec.default_name:
        raise ConfigError(
            f"{path}.table_name: '{ref.table_name}' is not supported; stackadmin keeps {name} in the table "
            f"'{spec.default_name}' (set table_name: {spec.default_name} or leave it out)"
        )
    return ref


def _check_other_stores(raw_stores: dict, backends: dict, declared: str) -> None:
    """Stores of other llama-stack APIs are not used, but a reference to an undeclared backend is still a mistake."""
    for name, ref_raw in raw_stores.items():
        if name in STORES:
            continue
        if isinstance(ref_raw, dict) and "backend" in ref_raw:
            _check_backend_ref(f"storage.stores.{name}", str(ref_raw["backend"]), None, backends, declared)


def _name_field(spec: StoreSpec) -> str:
    return "namespace" if spec.family == "kv" else "table_name"


def _check_backend_ref(path: str, backend: str, family: str | None, backends: dict, declared: str) -> None:
    if backend not in backends:
        raise ConfigError(f"{path} references backend '{backend}', which is not declared; declared: {declared}")
    actual = backends[backend]
    if family and actual.family != family:
        raise ConfigError(
            f"{path} references backend '{backend}' of type '{actual.type}', but the {path.rsplit('.', 1)[-1]} "
            f"store needs a {family}_* backend"
        )
