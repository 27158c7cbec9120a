"""Shared fixtures: isolated storage, real PostgreSQL/Redis checks, and a live `stackadmin run` server."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.test import override_settings

import httpx
import pytest

from stackadmin.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "db": "test"}
REDIS = {"host": "127.0.0.1", "port": 6379}
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Skip when a local service is missing on a developer machine; fail under CI, where it must run."""
    target = PG if name == "postgres" else REDIS
    if _reachable(target["host"], target["port"]):
        return
    message = f"{name} is not reachable at {target['host']}:{target['port']}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests needing {name} must run)")
    pytest.skip(message)


@pytest.fixture
def postgres_service():
    require_service("postgres")
    return dict(PG)


@pytest.fixture
def redis_service():
    require_service("redis")
    return dict(REDIS)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


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


# ------------------------------------------------------------------------------------------ live server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real `stackadmin run` process on a loopback port, with its own home and config."""

    def __init__(self, home: Path, config: str | None = None, workers: int = 1, env: dict | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "server.log"
        full_env = {**os.environ, "STACKADMIN_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop("STACKADMIN_CONFIG", None)
        if config:
            full_env["STACKADMIN_CONFIG"] = config
        self.env = full_env
        args = [sys.executable, "-m", "stackadmin.cli", "run", "--port", str(self.port), "--workers", str(workers)]
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()
        self.admin_password = self._admin_password()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}")

    def _admin_password(self) -> str | None:
        for line in self.log_path.read_text().splitlines():
            if line.strip().startswith("password:"):
                return line.split(":", 1)[1].strip()
        return None

    def manage(self, *args: str) -> str:
        """Run a `manage.py` command against this server's config and data; returns its stdout."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


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


# ------------------------------------------------------------------------------------------ llama-stack-client
CLIENT_SPEC = "llama-stack-client>=0.7,<0.8"


def _python312() -> str | None:
    candidates = [os.environ.get("STACKADMIN_TEST_PYTHON312"), shutil.which("python3.13"), shutil.which("python3.12")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="session")
def llama_stack_python() -> str:
    python = _python312()
    if python is None:
        message = "llama-stack-client needs Python >= 3.12 and none was found (set STACKADMIN_TEST_PYTHON312)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    venv = Path(os.path.expanduser("~/.cache/stackadmin-tests/llama-stack-client-0.7"))
    venv_python = venv / "bin" / "python"
    if not venv_python.exists():
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(venv_python), "-c", "import llama_stack_client"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(venv_python), "-m", "pip", "install", "--quiet", CLIENT_SPEC], check=True)
    return str(venv_python)
