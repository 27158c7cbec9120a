"""stackadmin settings: Django's own from `DJANGO_*` variables, storage from the run config.

The run config (`STACKADMIN_CONFIG`, or the built-in SQLite default under `STACKADMIN_HOME`) is loaded
once, here (stackadmin/config.py). A config that cannot be used does not crash the import: the error is kept in
`STACKADMIN_CONFIG_ERROR`, `manage.py check` reports it (apps.storage.checks) and `stackadmin run`
refuses to start with the same line.

What the process builds from the run config (KV clients, store write queues, inference providers, prompt
indexes) is built on first use and rebuilt when `STACKADMIN_RUN_CONFIG` changes (apps.core.handlers), so a test
switches configs with the `settings` fixture.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from corsheaders.defaults import default_headers

from apps.core.config import ConfigError
from apps.storage.databases import django_databases
from stackadmin.config import channel_layer_backend, home_directory, load_config, parse_config

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_positive_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else default


# ------------------------------------------------------------------------------------------ run config
STACKADMIN_CONFIG_ERROR: str | None = None
try:
    STACKADMIN_RUN_CONFIG = load_config()
except ConfigError as exc:
    STACKADMIN_CONFIG_ERROR = str(exc)
    # Keep Django importable so `manage.py check` can say what is wrong; nothing is written to disk.
    STACKADMIN_RUN_CONFIG = parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_memory"},
                    "sql_default": {"type": "sql_sqlite", "db_path": ":memory:"},
                }
            }
        },
        source="unusable config",
        home=home_directory(os.environ),
    )
STACKADMIN_HOME = STACKADMIN_RUN_CONFIG.home
# /v1 authentication: `server.auth.enabled`, defaulting to on when `stackadmin run` binds beyond loopback.
STACKADMIN_AUTH_ENABLED = STACKADMIN_RUN_CONFIG.auth.enabled_for(os.environ.get("STACKADMIN_BIND_HOST"))
STACKADMIN_ACCESS_POLICY = STACKADMIN_RUN_CONFIG.auth.access_policy
# `server.metrics` and `server.access_log` (stackadmin/observability.py).
STACKADMIN_METRICS_ENABLED = STACKADMIN_RUN_CONFIG.metrics.enabled
STACKADMIN_METRICS_TOKEN = STACKADMIN_RUN_CONFIG.metrics.token
STACKADMIN_ACCESS_LOG = STACKADMIN_RUN_CONFIG.access_log
# The client that reaches a provider's model server, built per provider (tests name a recording one).
STACKADMIN_UPSTREAM_CLASS = os.environ.get("STACKADMIN_UPSTREAM_CLASS") or "apps.inference.upstream.OpenAIUpstream"
# The client that reaches the web search provider (`tools.web_search`); tests name a recording one.
STACKADMIN_WEB_SEARCH_CLASS = os.environ.get("STACKADMIN_WEB_SEARCH_CLASS") or "apps.tools.web_search.HTTPWebSearch"
# The client that reaches remote MCP servers for Responses' `mcp` tools (tests name a recording one).
STACKADMIN_MCP_CLIENT_CLASS = os.environ.get("STACKADMIN_MCP_CLIENT_CLASS") or "apps.tools.mcp_sdk.SdkMcpClient"

# ------------------------------------------------------------------------------------------ Django core
DEBUG = _env_bool("DJANGO_DEBUG")


def _secret_key() -> str:
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    # `stackadmin run` writes this file (mode 0600) on first start so every worker shares one key.
    key_file = Path(STACKADMIN_HOME) / "secret_key"
    if key_file.is_file():
        return key_file.read_text().strip()
    # Management commands and tests without a home: a throwaway key (sessions do not outlive the process).
    return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "ninja",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "apps.core",
    "apps.storage",
    "apps.accounts",
    "apps.conversations",
    "apps.files",
    "apps.inference",
    "apps.prompts",
    "apps.responses",
]

MIDDLEWARE = [
    *(["stackadmin.observability.RouteMiddleware"] if STACKADMIN_METRICS_ENABLED or STACKADMIN_ACCESS_LOG else []),
    "stackadmin.middleware.V1ErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.SessionPrincipalMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# What /v1 requests pass through (see stackadmin/asgi.py): no cookies, so no session, CSRF or messages. CORS
# answers preflights before authentication (a browser sends them without the key) and marks 401s readable.
API_MIDDLEWARE = [
    *(["stackadmin.observability.RouteMiddleware"] if STACKADMIN_METRICS_ENABLED or STACKADMIN_ACCESS_LOG else []),
    "stackadmin.middleware.V1ErrorMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "apps.accounts.middleware.APIKeyMiddleware",
]

# Web pages from these origins may call /v1 (`server.cors.allowed_origins`); the API handler refuses every other
# page (stackadmin/browser_guard.py). API clients send no cookies, so no credentials; `*` lets a page send any
# header (the OpenAI SDK's `x-stainless-*`; `authorization` must be named on its own), and a listed origin on the
# public web may reach a server on a private address (Private Network Access).
CORS_ALLOWED_ORIGINS = list(STACKADMIN_RUN_CONFIG.cors.allowed_origins)
CORS_ALLOW_HEADERS = (*default_headers, "*")
CORS_ALLOW_PRIVATE_NETWORK = True

ROOT_URLCONF = "stackadmin.urls"
ASGI_APPLICATION = "stackadmin.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = django_databases(STACKADMIN_RUN_CONFIG.storage)
# The threads of a worker process that run `/v1` requests' database work, one call each (stackadmin/handler.py).
# One when every SQL store is on SQLite: it takes one writer at a time, and under load its connections on several
# threads cost each write more CPU than one connection on one thread.
STACKADMIN_API_THREADS = _env_positive_int(
    "STACKADMIN_API_THREADS", 8 if any(db["ENGINE"].endswith(".postgresql") for db in DATABASES.values()) else 1
)
DATABASE_ROUTERS = ["apps.storage.routers.StoreRouter"]
# The task engine (background responses): django-tasks' database backend, its table in the responses store
# (apps.storage.databases.APP_STORES); every server process runs the tasks (apps/core/tasks.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# How many tasks (background responses) one worker process runs at once; more wait, queued, for any process.
STACKADMIN_TASK_CAPACITY = _env_positive_int("STACKADMIN_TASK_CAPACITY", 64)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/dashboard/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/dashboard/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or None

# Request bodies: /v1 file uploads stream to disk through their own handler; JSON bodies (a Responses input with
# inline images, say) may be up to 32 MiB; larger ones are refused with a 413 before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The largest archive the dashboard's and the admin's Import pages take (the archive is read whole before the first
# write); larger ones go through `stackadmin prompts import`.
STACKADMIN_IMPORT_MAX_BYTES = _env_positive_int("STACKADMIN_IMPORT_MAX_BYTES", 32 * 1024 * 1024)

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Live-update events: in-process by default; through Redis when `server.channel_layer` names a kv_redis backend,
# so that pages served by one worker process hear about changes made through another.
_events = channel_layer_backend(STACKADMIN_RUN_CONFIG)
if _events is None:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": f"redis://{_events.host}:{_events.port}/{_events.db}",
                        **({"password": _events.password} if _events.password else {}),
                    }
                ],
                "prefix": "stackadmin:events",
            },
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "bare": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "access": {"class": "logging.StreamHandler", "formatter": "bare", "stream": "ext://sys.stdout"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("STACKADMIN_LOG_LEVEL", "WARNING")},
    "loggers": {
        "stackadmin": {"level": os.environ.get("STACKADMIN_LOG_LEVEL", "INFO")},
        "apps": {"level": os.environ.get("STACKADMIN_LOG_LEVEL", "INFO")},
        # One line per request when `server.access_log` is on, the line alone (it carries its own fields).
        "stackadmin.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
