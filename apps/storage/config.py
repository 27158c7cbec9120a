"""The run config: llama-stack's `storage` section (named backends, stores referencing them by name).

Loaded once by `stackadmin/settings.py` (and by `stackadmin run` before Django starts). Every mistake
raises `ConfigError` with one line that names the path of the offending value, so the CLI can print it
and `manage.py check` can report it unchanged. Nothing here touches the disk beyond reading the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator


class ConfigError(Exception):
    """A run config that cannot be used. The message is one line naming the path of the problem."""


# ------------------------------------------------------------------------------------------ env substitution
_ENV_PATTERN = re.compile(r"\$\{env\.([A-Za-z0-9_]+)(?:(:=|:\+)([^}]*))?\}")


def _coerce(value: str) -> Any:
    """llama-stack's coercion of substituted strings: "" -> None, booleans, ints, floats, else str."""
    if value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value


def _substitute_string(text: str, path: str, environ: os._Environ | dict) -> Any:
    substituted = False

    def replace(match: re.Match) -> str:
        nonlocal substituted
        substituted = True
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if not re.fullmatch(r"[A-Z0-9_]+", name):
            raise ConfigError(f"{path}: '${{env.{name}}}' is not a valid variable reference (names use A-Z, 0-9, _)")
        current = environ.get(name, "")
        if op == ":=":
            return current if current else arg
        if op == ":+":
            return arg if current else ""
        if not current:
            raise ConfigError(
                f"{path}: environment variable {name} is not set "
                f"(set it, or give a default with ${{env.{name}:=value}})"
            )
        return current

    result = _ENV_PATTERN.sub(replace, text)
    if not substituted:
        return text
    if result.startswith("~"):
        result = os.path.expanduser(result)
    return _coerce(result)


def substitute_env(node: Any, path: str = "", environ: os._Environ | dict | None = None) -> Any:
    """Replace `${env.NAME}`, `${env.NAME:=default}` and `${env.NAME:+value}` everywhere in a parsed YAML tree."""
    environ = os.environ if environ is None else environ
    if isinstance(node, dict):
        return {k: substitute_env(v, f"{path}.{k}" if path else str(k), environ) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute_env(v, f"{path}[{i}]", environ) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _substitute_string(node, path, environ)
    return node


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


class KVPostgresBackend(_Backend):
    type: Literal["kv_postgres"]
    host: str = "localhost"
    port: int = 5432
    db: str = "ogx"
    user: str
    password: str | None = None
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


class SqlPostgresBackend(_Backend):
    type: Literal["sql_postgres"]
    host: str = "localhost"
    port: int = 5432
    db: str = "ogx"
    user: str
    password: str | None = None
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

# Top-level sections of a llama-stack run.yaml that stackadmin reads; others are ignored with a warning.
KNOWN_SECTIONS = ("version", "storage", "server", "files", "providers", "registered_resources", "models")


@dataclass(frozen=True)
class StorageConfig:
    backends: dict[str, Any]
    stores: dict[str, KVStoreRef | SqlStoreRef]

    def backend_of(self, store: str) -> Any:
        return self.backends[self.stores[store].backend]


@dataclass(frozen=True)
class FilesConfig:
    storage_dir: str
    max_upload_bytes: int = 512 * 1024 * 1024


# ------------------------------------------------------------------------------------------ inference
DISABLED_PROVIDER = "__disabled__"
INFERENCE_PROVIDER_TYPES = ("remote::openai",)


class _InferenceProviderSettings(BaseModel):
    """`config:` of a `remote::openai` provider: any OpenAI-compatible server (OpenAI, vLLM, Ollama, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    timeout: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    allowed_models: list[str] | None = None
    refresh_models: bool = False  # llama-stack's flag; stackadmin always refreshes an unknown model once


class _InferenceProviderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    provider_id: str
    provider_type: str
    config: _InferenceProviderSettings = _InferenceProviderSettings()


class _RegisteredModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model_id: Annotated[str, Field(min_length=1)]
    provider_id: str | None = None
    provider_model_id: str | None = None
    model_type: Literal["llm", "embedding"] = "llm"
    metadata: dict = Field(default_factory=dict)


@dataclass(frozen=True)
class InferenceProvider:
    provider_id: str
    provider_type: str
    base_url: str
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    allowed_models: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RegisteredModel:
    model_id: str
    provider_id: str
    provider_model_id: str
    model_type: str = "llm"
    metadata: dict = field(default_factory=dict, compare=False)


def _is_disabled(provider_id: Any) -> bool:
    return provider_id is None or provider_id in ("", DISABLED_PROVIDER)


def _parse_inference_providers(raw: Any) -> tuple[InferenceProvider, ...] | None:
    """llama-stack's `providers.inference` list; entries whose provider_id resolves to __disabled__ (or empty) drop.

    Returns the enabled providers, or None when the section is absent.
    """
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ConfigError("providers.inference: must be a list of providers ({provider_id, provider_type, config})")
    enabled: list[InferenceProvider] = []
    for index, entry in enumerate(raw):
        path = f"providers.inference[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: must be a mapping with provider_id, provider_type and config")
        if _is_disabled(entry.get("provider_id")) and "provider_id" in entry:
            continue
        try:
            parsed = _InferenceProviderEntry.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(_pydantic_message(path, exc)) from None
        if parsed.provider_type not in INFERENCE_PROVIDER_TYPES:
            raise ConfigError(
                f"{path}.provider_type: {parsed.provider_type!r} is not supported; stackadmin reaches any "
                "OpenAI-compatible server (OpenAI, vLLM, Ollama, ...) through 'remote::openai' with config.base_url"
            )
        if any(p.provider_id == parsed.provider_id for p in enabled):
            raise ConfigError(f"{path}.provider_id: {parsed.provider_id!r} is declared twice")
        cfg = parsed.config
        if not re.match(r"^https?://[^/\s]+", cfg.base_url):
            raise ConfigError(f"{path}.config.base_url: must be an http(s) URL (got {cfg.base_url!r})")
        enabled.append(
            InferenceProvider(
                provider_id=parsed.provider_id,
                provider_type=parsed.provider_type,
                base_url=cfg.base_url.rstrip("/"),
                api_key=cfg.api_key,
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
                allowed_models=tuple(cfg.allowed_models) if cfg.allowed_models is not None else None,
            )
        )
    return tuple(enabled)


def _parse_models(raw: Any, path: str, providers: tuple[InferenceProvider, ...] | None) -> tuple[RegisteredModel, ...]:
    """Registered models (`registered_resources.models`, or llama-stack's older top-level `models`).

    A model of a disabled provider is dropped with it, as llama-stack does; one naming an undeclared provider is an
    error. `provider_id` may be left out when exactly one provider is enabled.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: must be a list of models ({{model_id, provider_id, provider_model_id}})")
    enabled = {p.provider_id: p for p in providers or ()}
    models: dict[str, RegisteredModel] = {}
    for index, entry in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a mapping with model_id and provider_id")
        if "provider_id" in entry and _is_disabled(entry["provider_id"]):
            continue
        try:
            parsed = _RegisteredModelEntry.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(_pydantic_message(where, exc)) from None
        provider_id = parsed.provider_id
        if provider_id is None:
            if len(enabled) != 1:
                raise ConfigError(
                    f"{where}.provider_id: required when {'no' if not enabled else 'more than one'} inference "
                    f"provider is enabled (enabled: {', '.join(sorted(enabled)) or 'none'})"
                )
            provider_id = next(iter(enabled))
        if provider_id not in enabled:
            raise ConfigError(
                f"{where}.provider_id: '{provider_id}' is not an enabled providers.inference entry; "
                f"enabled: {', '.join(sorted(enabled)) or 'none'}"
            )
        if parsed.model_id in models:
            raise ConfigError(f"{where}.model_id: '{parsed.model_id}' is registered twice")
        models[parsed.model_id] = RegisteredModel(
            model_id=parsed.model_id,
            provider_id=provider_id,
            provider_model_id=parsed.provider_model_id or parsed.model_id,
            model_type=parsed.model_type,
            metadata=dict(parsed.metadata),
        )
    return tuple(models.values())


@dataclass(frozen=True)
class RunConfig:
    source: str  # file path, or "built-in default"
    home: str
    storage: StorageConfig
    files: FilesConfig
    server: dict = field(default_factory=dict)
    providers: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # None when the config has no `providers.inference` section (then OPENAI_BASE_URL / OPENAI_API_KEY may enable one).
    inference_providers: tuple[InferenceProvider, ...] | None = None
    models: tuple[RegisteredModel, ...] = ()


def default_home() -> str:
    return os.path.expanduser(os.environ.get("STACKADMIN_HOME") or "~/.stackadmin")


def default_config_dict(home: str) -> dict:
    return {
        "storage": {
            "backends": {
                "kv_default": {"type": "kv_sqlite", "db_path": os.path.join(home, "kvstore.db")},
                "sql_default": {"type": "sql_sqlite", "db_path": os.path.join(home, "sql_store.db")},
            },
            "stores": {},
        }
    }


def _pydantic_message(prefix: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p not in BACKEND_TYPES)
    where = f"{prefix}.{loc}" if loc else prefix
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    if err["type"] == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", err["input"])
        return f"{prefix}.type: unknown backend type {tag!r}; supported: {', '.join(BACKEND_TYPES)}"
    if err["type"] == "union_tag_not_found":
        return f"{prefix}.type: required field is missing; supported: {', '.join(BACKEND_TYPES)}"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"


def _parse_storage(raw: Any) -> StorageConfig:
    if not isinstance(raw, dict):
        raise ConfigError("storage: must be a mapping with 'backends' and 'stores'")
    raw_backends = raw.get("backends") or {}
    if not isinstance(raw_backends, dict):
        raise ConfigError("storage.backends: must be a mapping of backend name to backend config")
    backends: dict[str, Any] = {}
    for name, cfg in raw_backends.items():
        path = f"storage.backends.{name}"
        if not isinstance(cfg, dict):
            raise ConfigError(f"{path}: must be a mapping with a 'type'")
        try:
            backends[str(name)] = _BACKEND_ADAPTER.validate_python(cfg)
        except ValidationError as exc:
            raise ConfigError(_pydantic_message(path, exc)) from None
    declared = ", ".join(sorted(backends)) or "none"

    raw_stores = raw.get("stores") or {}
    if not isinstance(raw_stores, dict):
        raise ConfigError("storage.stores: must be a mapping of store name to a backend reference")
    stores: dict[str, KVStoreRef | SqlStoreRef] = {}
    for name, spec in STORES.items():
        path = f"storage.stores.{name}"
        ref_raw = raw_stores.get(name)
        if ref_raw is None:
            if spec.default_backend not in backends:
                raise ConfigError(
                    f"{path} is not set and its default backend '{spec.default_backend}' is not declared "
                    f"(declared: {declared}); add a {path} entry"
                )
            ref_raw = {"backend": spec.default_backend}
            ref_raw["namespace" if spec.family == "kv" else "table_name"] = spec.default_name
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
        stores[name] = ref
    for name, ref_raw in raw_stores.items():
        if name in STORES:
            continue
        path = f"storage.stores.{name}"
        if isinstance(ref_raw, dict) and "backend" in ref_raw:
            _check_backend_ref(path, str(ref_raw["backend"]), None, backends, declared)
    return StorageConfig(backends=backends, stores=stores)


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


def _check_channel_layer(raw: Any, storage: StorageConfig) -> None:
    """`server.channel_layer: {backend: <kv_redis backend>}` carries live-update events between worker processes."""
    if raw is None:
        return
    path = "server.channel_layer"
    if not isinstance(raw, dict) or set(raw) != {"backend"}:
        raise ConfigError(f"{path}: must be a mapping with exactly one field, 'backend' (a kv_redis backend name)")
    name = raw["backend"]
    declared = ", ".join(sorted(storage.backends)) or "none"
    if name not in storage.backends:
        raise ConfigError(f"{path} references backend '{name}', which is not declared; declared: {declared}")
    if storage.backends[name].type != "kv_redis":
        raise ConfigError(
            f"{path} references backend '{name}' of type '{storage.backends[name].type}', "
            "but the channel layer needs a kv_redis backend"
        )


def _check_auth(raw: Any) -> None:
    """`server.auth: {enabled: bool, access_policy: [rules]}`; a rule that does not parse names its index and text."""
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise ConfigError("server.auth: must be a mapping with 'enabled' and optional 'access_policy'")
    unknown = set(raw) - {"enabled", "access_policy"}
    if unknown:
        raise ConfigError(f"server.auth.{sorted(unknown)[0]}: unknown field (known: enabled, access_policy)")
    if "enabled" in raw and not isinstance(raw["enabled"], bool):
        raise ConfigError(f"server.auth.enabled: must be true or false (got {raw['enabled']!r})")
    from apps.core.policy import PolicyError, parse_policy

    try:
        parse_policy(raw.get("access_policy"))
    except PolicyError as exc:
        raise ConfigError(str(exc)) from None


def auth_settings(config: RunConfig, bind_host: str | None) -> tuple[bool, Any]:
    """(enabled, access policy). Authentication defaults to on when the server listens beyond loopback."""
    from apps.core.policy import parse_policy

    raw = config.server.get("auth") or {}
    enabled = raw.get("enabled")
    if enabled is None:
        enabled = bool(bind_host) and not is_loopback_host(bind_host)
    return enabled, parse_policy(raw.get("access_policy"))


def is_loopback_host(host: str) -> bool:
    import ipaddress
    import socket

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def channel_layer_backend(config: RunConfig) -> KVRedisBackend | None:
    raw = config.server.get("channel_layer")
    return config.storage.backends[raw["backend"]] if raw else None


def parse_config(data: Any, *, source: str, home: str) -> RunConfig:
    """Validate an already-loaded (and env-substituted) run config mapping."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the run config must be a YAML mapping at the top level")
    warnings = tuple(
        f"{source}: top-level section '{key}' is not used by stackadmin; ignored"
        for key in data
        if key not in KNOWN_SECTIONS
    )
    storage_raw = data.get("storage")
    if storage_raw is None:
        storage_raw = default_config_dict(home)["storage"]
    storage = _parse_storage(storage_raw)

    files_raw = data.get("files") or {}
    if not isinstance(files_raw, dict):
        raise ConfigError("files: must be a mapping (storage_dir, max_upload_bytes)")
    unknown = set(files_raw) - {"storage_dir", "max_upload_bytes"}
    if unknown:
        raise ConfigError(f"files.{sorted(unknown)[0]}: unknown field (known: storage_dir, max_upload_bytes)")
    max_upload = files_raw.get("max_upload_bytes", FilesConfig.max_upload_bytes)
    if not isinstance(max_upload, int) or isinstance(max_upload, bool) or max_upload < 1:
        raise ConfigError(f"files.max_upload_bytes: must be a positive integer (got {max_upload!r})")
    storage_dir = files_raw.get("storage_dir") or os.path.join(home, "files")
    if not isinstance(storage_dir, str):
        raise ConfigError(f"files.storage_dir: must be a path (got {storage_dir!r})")
    files = FilesConfig(storage_dir=os.path.expanduser(storage_dir), max_upload_bytes=max_upload)

    server = data.get("server") or {}
    if not isinstance(server, dict):
        raise ConfigError("server: must be a mapping")
    _check_channel_layer(server.get("channel_layer"), storage)
    _check_auth(server.get("auth"))
    providers = data.get("providers") or {}
    if not isinstance(providers, dict):
        raise ConfigError("providers: must be a mapping of API name to a list of providers")
    inference_providers = _parse_inference_providers(providers.get("inference"))
    resources = data.get("registered_resources") or {}
    if not isinstance(resources, dict):
        raise ConfigError("registered_resources: must be a mapping (models, ...)")
    models = _parse_models(resources.get("models"), "registered_resources.models", inference_providers)
    if data.get("models") is not None:
        if models:
            raise ConfigError("models: give registered models in one place, registered_resources.models")
        models = _parse_models(data.get("models"), "models", inference_providers)
    return RunConfig(
        source=source,
        home=home,
        storage=storage,
        files=files,
        server=server,
        providers=providers,
        warnings=warnings,
        inference_providers=inference_providers,
        models=models,
    )


def load_config(path: str | None = None, *, environ: dict | None = None) -> RunConfig:
    """Load the run config from `path` (or `STACKADMIN_CONFIG`), or the built-in default when neither is set."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    home = os.path.expanduser(environ.get("STACKADMIN_HOME") or "~/.stackadmin")
    path = path or environ.get("STACKADMIN_CONFIG") or None
    if not path:
        return parse_config(None, source="built-in default", home=home)
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: run config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the run config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_config(substitute_env(data, environ=environ), source=str(path), home=home)
