"""A real `stackadmin run` process on a loopback port, with its own home and config."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.paths import ROOT
from tests.support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM (a server drains its queued writes), then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
        try:
            return httpx.get(self.url + "/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _wait_ready(self, timeout: float = 60) -> None:
        try:
            wait_until(self._ready, timeout=timeout, interval=0.1)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"server did not become ready:\n{self.log_path.read_text()}") from None

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
        stop_process(self.process)
        self._log.close()
