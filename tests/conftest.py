"""Fixtures every test package may use: isolated storage, the local services, live `stackadmin run` servers, the
model servers' stand-in, the KV backend the prompts store points at, and Chromium. Their machinery is in
tests/support."""

from __future__ import annotations

from pathlib import Path

from django.test import override_settings

import httpx
import pytest

from apps.storage.kv import kv_stores
from stackadmin.config import parse_config
from tests.support import kv
from tests.support.browser import chromium
from tests.support.inference import Upstream, sdk
from tests.support.live_server import LiveServer
from tests.support.llama_stack import client_python, python312
from tests.support.names import unique
from tests.support.postgres import drop_table, postgres_server
from tests.support.s3 import S3Emulator
from tests.support.services import PG, REDIS, require_service, unavailable


@pytest.fixture
def postgres_service():
    require_service("postgres")
    return dict(PG)


@pytest.fixture
def redis_service():
    require_service("redis")
    return dict(REDIS)


@pytest.fixture(scope="session", autouse=True)
def isolated_run_config(tmp_path_factory):
    """Point every in-process KV store and file directory at a throwaway home, never at ~/.stackadmin."""
    home = tmp_path_factory.mktemp("stackadmin-home")
    config = parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_sqlite", "db_path": str(home / "kvstore.db")},
                    "sql_default": {"type": "sql_sqlite", "db_path": str(home / "sql_store.db")},
                }
            },
            "files": {"storage_dir": str(home / "files")},
        },
        source="tests",
        home=str(home),
    )
    # The `settings` fixture is per test; for the session, the override it is built on (which, like it, tells the
    # run-config handlers to start afresh on entry and on exit).
    override = override_settings(STACKADMIN_RUN_CONFIG=config)
    override.enable()
    yield config
    override.disable()


@pytest.fixture
def alice(django_user_model):
    """A dashboard user with a password."""
    return django_user_model.objects.create_user("alice", password="pw-alice-12345")


@pytest.fixture
def prompts_backend(request, tmp_path, settings):
    """Point the `prompts` store at the backend named by the test's parameter (a fresh namespace/table)."""
    kind = getattr(request, "param", "sqlite")
    backend = kv.backend_config(kind, tmp_path)
    namespace = unique("prompts_")
    settings.STACKADMIN_RUN_CONFIG = parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_memory"},
                    "prompts_backend": backend,
                    "sql_default": {"type": "sql_sqlite", "db_path": ":memory:"},
                },
                "stores": {"prompts": {"backend": "prompts_backend", "namespace": namespace}},
            }
        },
        source="tests",
        home=str(tmp_path),
    )
    yield kind
    kv_stores["prompts"].delete_range("", "\U0010ffff")
    if kind == "postgres":  # the store's pooled connections are idle in autocommit: they hold no lock on the table
        drop_table(backend["table_name"])


# ------------------------------------------------------------------------------------------ live servers
@pytest.fixture
async def v1(transactional_db):
    """`/v1` in-process: an httpx client over the project's ASGI application (the same handler, middleware and
    renderer as a live server), on the test database. For what needs no second process, no model server and no
    worker restarts."""
    from stackadmin.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture(scope="session")
def stackadmin_server(tmp_path_factory):
    """One shared server on the default (SQLite) config for the whole session."""
    server = LiveServer(tmp_path_factory.mktemp("live-home"))
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path_factory):
    """Start extra servers with a given config; all are stopped at the end of the test."""
    servers: list[LiveServer] = []

    def start(config_text: str | None = None, workers: int = 1, env: dict | None = None) -> LiveServer:
        home = tmp_path_factory.mktemp("server-home")
        path = None
        if config_text is not None:
            path = str(home / "run.yaml")
            Path(path).write_text(config_text)
        server = LiveServer(home, path, workers=workers, env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    """A live server (two workers) whose conversations and files stores are a fresh PostgreSQL database."""
    with postgres_server(tmp_path_factory, workers=2) as server:
        yield server


@pytest.fixture(scope="module")
def pg_client(pg):
    """The OpenAI SDK on the `pg` server."""
    with sdk(pg, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """An S3-compatible server on loopback (moto's); `s3.new_bucket()` gives each user a bucket of its own."""
    emulator = S3Emulator(tmp_path_factory.mktemp("s3"))
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def upstream():
    """Where the live servers' model providers point (see tests/support/inference.py)."""
    running = Upstream()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright (tests marked `browser`)."""
    with chromium() as launched:
        yield launched


# ------------------------------------------------------------------------------------------ llama-stack-client
@pytest.fixture(scope="session")
def llama_stack_python() -> str:
    python = python312()
    if python is None:
        unavailable("llama-stack-client needs Python >= 3.12 and none was found (set STACKADMIN_TEST_PYTHON312)")
    return client_python(python)
