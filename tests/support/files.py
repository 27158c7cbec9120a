"""Helpers for the file tests: what a storage directory holds, and a live server's files, database and memory."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

from tests.support.paths import ROOT
from tests.support.procstat import rss_bytes


def stored_files(root: Path) -> list[str]:
    """Every regular file under a storage directory, staged ones included, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def storage_dir(server) -> Path:
    return Path(server.home) / "files"


def stored(server) -> list[str]:
    """Everything a live server keeps of uploads: its storage directory (staged parts included) and, when its files
    live in a bucket (`server.bucket`, set by whoever started it), the objects under its prefix."""
    local = stored_files(storage_dir(server))
    bucket = getattr(server, "bucket", None)
    if bucket is None:
        return local
    return local + [f"s3:{key}" for key in server.s3.keys(bucket, "files/")]


def stored_bytes(server, file_id: str) -> bytes | None:
    """A file's stored bytes, read behind the server's back; None when there are none."""
    relative = f"{file_id[5:7]}/{file_id}"
    bucket = getattr(server, "bucket", None)
    if bucket is None:
        path = storage_dir(server) / relative
        return path.read_bytes() if path.exists() else None
    try:
        return server.s3.client.get_object(Bucket=bucket, Key=f"files/{relative}")["Body"].read()
    except server.s3.client.exceptions.NoSuchKey:
        return None


def remove_stored(server, file_id: str) -> None:
    relative = f"{file_id[5:7]}/{file_id}"
    bucket = getattr(server, "bucket", None)
    if bucket is None:
        (storage_dir(server) / relative).unlink()
    else:
        server.s3.client.delete_object(Bucket=bucket, Key=f"files/{relative}")


def age_file_sqlite(server, file_id: str, seconds: int) -> None:
    """Pretend a file was uploaded `seconds` earlier (created_at and expires_at move back together)."""

    def shift(value: str | None) -> str | None:
        if value is None:
            return None
        return (datetime.fromisoformat(value) - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S.%f")

    with sqlite3.connect(Path(server.home) / "sql_store.db", timeout=30) as db:
        created, expires = db.execute(
            "SELECT created_at, expires_at FROM openai_files WHERE public_id = ?", (file_id,)
        ).fetchone()
        db.execute(
            "UPDATE openai_files SET created_at = ?, expires_at = ? WHERE public_id = ?",
            (shift(created), shift(expires), file_id),
        )


def manage(server, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python manage.py ...` against a live server's home (and run config)."""
    env = {**os.environ, "STACKADMIN_HOME": str(server.home)}
    env.pop("STACKADMIN_CONFIG", None)
    if config is not None:
        env["STACKADMIN_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


class PeakRSS:
    """Samples a process tree's RSS every few milliseconds while the block runs."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_bytes(self.pid))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRSS:
        self.baseline = self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))

    @property
    def growth(self) -> int:
        return self.peak - self.baseline
