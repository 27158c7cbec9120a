"""The run config loader: read the YAML, substitute `${env.X}`, and hand each section to the app that owns it.

A run config is a llama-stack `run.yaml`. `storage` is parsed by `apps.storage.config`, `files` by
`apps.files.config`, `providers.inference` and the registered models by `apps.inference.config`, `server.auth` by
`apps.accounts.config`, `tools` (server-side tools in Responses) by `apps.tools.config`; `server.channel_layer`
and `server.cors` are parsed here, since only the project's settings and its `/v1` handler read them. Each app
then reads its section through its own accessor (`storage_config()`, `files_config()`, `inference_config()`),
never through this module.

Loaded once by `stackadmin/settings.py` (and by `stackadmin run` before Django starts). Every mistake raises
`ConfigError` with one line that names the path of the offending value, so the CLI can print it and
`manage.py check` can report it unchanged. Nothing here touches the disk beyond reading the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from apps.accounts.config import AuthConfig, parse_auth
from apps.core.config import ConfigError
from apps.files.config import FilesConfig, parse_files
from apps.inference.config import InferenceConfig, parse_inference
from apps.prompts.config import PromptsConfig, parse_prompts
from apps.responses.config import UsageConfig, parse_usage
from apps.storage.config import KVRedisBackend, StorageConfig, default_storage, parse_storage
from apps.tools.config import ToolsConfig, parse_tools

# Top-level sections of a llama-stack run.yaml that stackadmin reads; others are ignored with a warning.
KNOWN_SECTIONS = (
    "version",
    "storage",
    "server",
    "files",
    "prompts",
    "usage",
    "tools",
    "providers",
    "registered_resources",
    "models",
)


@dataclass(frozen=True)
class CorsConfig:
    """`server.cors`: the web origins whose pages may call `/v1` from a browser (every other page is refused)."""

    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricsConfig:
    """`server.metrics`: the Prometheus endpoint `/metrics` (stackadmin/observability.py)."""

    enabled: bool = False
    token: str | None = None  # a bearer token for scrapers, besides API keys, when authentication is on


@dataclass(frozen=True)
class RunConfig:
    source: str  # file path, or "built-in default"
    home: str
    storage: StorageConfig
    files: FilesConfig
    prompts: PromptsConfig
    inference: InferenceConfig
    auth: AuthConfig
    cors: CorsConfig = CorsConfig()
    usage: UsageConfig = field(default_factory=UsageConfig)
    tools: ToolsConfig = field(default_factory=ToolsConfig)
    metrics: MetricsConfig = MetricsConfig()
    access_log: str | None = None  # `server.access_log`: "text" or "json", None when off
    server: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


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


# ------------------------------------------------------------------------------------------ sections
def parse_config(data: Any, *, source: str, home: str) -> RunConfig:
    """Validate an already-loaded (and env-substituted) run config mapping, section by section."""
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
    storage = parse_storage(default_storage(home) if storage_raw is None else storage_raw)
    files = parse_files(data.get("files"), home=home)
    prompts = parse_prompts(data.get("prompts"))
    server = data.get("server") or {}
    if not isinstance(server, dict):
        raise ConfigError("server: must be a mapping")
    _check_channel_layer(server.get("channel_layer"), storage)
    auth = parse_auth(server.get("auth"))
    cors = parse_cors(server.get("cors"))
    metrics = parse_metrics(server.get("metrics"))
    access_log = parse_access_log(server.get("access_log"))
    inference = parse_inference(
        providers=data.get("providers"),
        registered_resources=data.get("registered_resources"),
        legacy_models=data.get("models"),
    )
    return RunConfig(
        source=source,
        home=home,
        storage=storage,
        files=files,
        prompts=prompts,
        inference=inference,
        auth=auth,
        cors=cors,
        usage=parse_usage(data.get("usage")),
        tools=parse_tools(data.get("tools")),
        metrics=metrics,
        access_log=access_log,
        server=server,
        warnings=warnings,
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


def parse_metrics(raw: Any) -> MetricsConfig:
    """`server.metrics: {enabled: bool, token: str}`."""
    path = "server.metrics"
    if raw is None:
        return MetricsConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with 'enabled' and optional 'token'")
    unknown = set(raw) - {"enabled", "token"}
    if unknown:
        raise ConfigError(f"{path}.{sorted(unknown)[0]}: unknown field (known: enabled, token)")
    enabled = raw.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}.enabled: must be true or false (got {enabled!r})")
    token = raw.get("token")
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise ConfigError(f"{path}.token: must be a string of at least 16 characters")
    return MetricsConfig(enabled=enabled, token=token)


ACCESS_LOG_FORMATS = ("text", "json")


def parse_access_log(raw: Any) -> str | None:
    """`server.access_log: text | json` (or `false`, the default: no access log)."""
    if raw is None or raw is False:
        return None
    if raw not in ACCESS_LOG_FORMATS:
        raise ConfigError(f"server.access_log: must be one of text, json or false (got {raw!r})")
    return raw


_ORIGIN_SHAPE = "an origin like 'https://app.example.com' or 'http://localhost:3000' (scheme, host, port; no path)"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_cors(raw: Any) -> CorsConfig:
    """`server.cors: {allowed_origins: [origin, ...]}`: pages served from these origins may call `/v1` (CORS)."""
    path = "server.cors"
    if raw is None:
        return CorsConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with one field, 'allowed_origins' (a list of origins)")
    unknown = set(raw) - {"allowed_origins"}
    if unknown:
        raise ConfigError(f"{path}.{sorted(unknown)[0]}: unknown field (known: allowed_origins)")
    origins = raw.get("allowed_origins") or []
    if not isinstance(origins, list):
        raise ConfigError(f"{path}.allowed_origins: must be a list of origins (got {origins!r})")
    return CorsConfig(
        allowed_origins=tuple(_origin(value, f"{path}.allowed_origins[{i}]") for i, value in enumerate(origins))
    )


def _origin(value: Any, path: str) -> str:
    """One origin, written the way a browser sends it in `Origin` (lowercase, no default port), so that comparing
    strings is comparing origins."""
    if value in ("*", "null"):
        raise ConfigError(f"{path}: {value!r} would let any web page use /v1; list each origin instead")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: must be {_ORIGIN_SHAPE} (got {value!r})")
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        raise ConfigError(f"{path}: must be {_ORIGIN_SHAPE} (got {value!r})") from None
    parts_beyond_origin = url.path or url.query or url.fragment or url.username or url.password
    if url.scheme not in _DEFAULT_PORTS or not url.hostname or parts_beyond_origin:
        raise ConfigError(f"{path}: must be {_ORIGIN_SHAPE} (got {value!r})")
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    netloc = host if port in (None, _DEFAULT_PORTS[url.scheme]) else f"{host}:{port}"
    return f"{url.scheme}://{netloc}"


def used_backends(config: RunConfig) -> dict[str, Any]:
    """The backends some store uses, by name (a declared backend no store uses is never connected to)."""
    names = dict.fromkeys(ref.backend for ref in config.storage.stores.values())
    return {name: config.storage.backends[name] for name in names}


def channel_layer_backend(config: RunConfig) -> KVRedisBackend | None:
    raw = config.server.get("channel_layer")
    return config.storage.backends[raw["backend"]] if raw else None


# ------------------------------------------------------------------------------------------ loading
def home_directory(environ: os._Environ | dict) -> str:
    """`STACKADMIN_HOME`, else `~/.stackadmin`: where the built-in default keeps its data."""
    return os.path.expanduser(environ.get("STACKADMIN_HOME") or "~/.stackadmin")


def load_config(path: str | None = None, *, environ: dict | None = None) -> RunConfig:
    """Load the run config from `path` (or `STACKADMIN_CONFIG`), or the built-in default when neither is set."""
    environ = os.environ if environ is None else environ  # type: ignore[assignment]
    home = home_directory(environ)
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
