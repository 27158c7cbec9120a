"""Uploads abandoned by a worker that was killed (SIGKILL) mid-upload, on live `stackadmin run` processes sharing a
storage directory: the purge and a restarted server remove what a dead worker staged at once, and leave what a live
worker is still receiving alone."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from tests.support.files import stored_files
from tests.support.live_server import LiveServer
from tests.support.waiting import wait_until


@contextlib.contextmanager
def database_locked(server: LiveServer):
    """Hold the server's SQLite write lock: an upload then waits at its INSERT (for up to the server's 30 s busy
    timeout) with its bytes staged in `.incoming`, which is where a worker killed mid-upload leaves them."""
    db = sqlite3.connect(Path(server.home) / "sql_store.db", timeout=30, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()


def parts(storage: Path) -> set[Path]:
    return set((storage / ".incoming").glob("*.part"))


def start_upload(pool: ThreadPoolExecutor, server: LiveServer, storage: Path, data: bytes) -> tuple[Future, Path]:
    """Send an upload from a thread; returns its future and the part it is staged in, once that exists."""
    before = parts(storage)

    def send():
        with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60) as sdk:
            return sdk.files.create(file=("upload.bin", data), purpose="batch")

    future = pool.submit(send)
    new = wait_until(lambda: parts(storage) - before, timeout=20, what="the upload's staged part")
    (part,) = new
    return future, part


def kill(server: LiveServer) -> None:
    """SIGKILL: no handler runs, nothing is cleaned up (with one worker, the `stackadmin run` process serves)."""
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()


def test_the_purge_removes_a_killed_workers_part_at_once_and_leaves_a_live_upload_alone(start_server, tmp_path):
    storage = tmp_path / "shared-files"
    config = f"files: {{storage_dir: '{storage}'}}\n"
    doomed, live = start_server(config), start_server(config)  # two servers, one storage directory
    with ThreadPoolExecutor(2) as pool:
        with database_locked(doomed), database_locked(live):
            killed_upload, dead_part = start_upload(pool, doomed, storage, b"never stored")
            live_upload, live_part = start_upload(pool, live, storage, b"stored once the database is free")
            kill(doomed)
            out = live.manage("purge_expired_files")  # the default --incoming-max-age: a day
            assert f"removed abandoned upload {dead_part.name}" in out
            assert "and 1 abandoned upload." in out
            assert not dead_part.exists()
            assert live_part.exists()  # its worker is still receiving it
        stored = live_upload.result()
        with pytest.raises(openai.APIConnectionError):
            killed_upload.result()
    assert stored.bytes == len(b"stored once the database is free")
    assert stored_files(storage) == [f"{stored.id[5:7]}/{stored.id}"]


def test_a_restarted_server_removes_the_part_its_killed_predecessor_left(start_server):
    server = start_server()
    storage = Path(server.home) / "files"
    with ThreadPoolExecutor(1) as pool, database_locked(server):
        killed_upload, part = start_upload(pool, server, storage, b"never stored")
        kill(server)
    with pytest.raises(openai.APIConnectionError):
        killed_upload.result()
    assert part.exists()
    restarted = LiveServer(server.home)  # ready once its startup (where the sweep runs) is over
    try:
        assert not part.exists()
        assert stored_files(storage) == []
    finally:
        restarted.stop()
