"""The task engine's worker inside every server process.

The engine is Django's Tasks API (`django_tasks`, the backport of Django 6's `django.tasks`) with its database
backend (`django_tasks_db`): a task is enqueued as a row, and any process that can reach that database claims it
(`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, an exclusive transaction on SQLite) and records how it ended.
Nothing else has to run: `stackadmin run` starts a `TaskRunner` in each worker process (`stackadmin/asgi.py`'s
lifespan), and `manage.py db_worker` (the backend's own worker) can run the same tasks on hosts that serve no HTTP.

Why the runner, and not only `db_worker`: `db_worker` polls (every second by default) and runs an async task on an
event loop of its own per call. Here:

- a task enqueued by this process is claimed at once (`wake()`), with no polling delay: a background response
  costs a few milliseconds more than a foreground one, not half a polling interval;
- tasks run concurrently (up to `capacity`) on the server's event loop, beside its requests, sharing the model
  servers' connection pools, and their database work goes through the same threads as the requests'
  (`context`, given by the ASGI entry point);
- tasks enqueued elsewhere (another worker process, another host) are claimed by the poll every `POLL_SECONDS`,
  when this process has room.

Apps add `housekeeping` that the runner's thread calls every `POLL_SECONDS` with its worker id (background
responses: heartbeats, cancellation, failing the work of processes that died).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from django.db import OperationalError, close_old_connections

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often a process looks for tasks others enqueued, and runs the housekeeping
housekeeping: list[Callable[[str], None]] = []  # called on the runner's thread, each with the worker id


def new_worker_id() -> str:
    """Unique across hosts and processes (the backend records it on each task it runs); at most 64 characters."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class TaskRunner:
    def __init__(self, *, backend: str = "default", capacity: int = 64) -> None:
        self.backend = backend
        self.capacity = capacity
        self.worker_id = new_worker_id()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running: set[Future] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: Callable[[], AbstractAsyncContextManager] = nullcontext
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(
        self, loop: asyncio.AbstractEventLoop, context: Callable[[], AbstractAsyncContextManager] | None = None
    ) -> None:
        self._loop = loop
        self._context = context or nullcontext
        self._thread = threading.Thread(target=self._run, name="task-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A task was enqueued here: claim it now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """Stop claiming. Tasks still running are cancelled by the loop's shutdown; their work is then failed by
        the housekeeping of another process (it stops hearing from this one)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------------------------------ the thread
    def _run(self) -> None:
        next_tick = 0.0
        while not self._stopping.is_set():
            try:
                self._claim_ready()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + POLL_SECONDS
                    for job in housekeeping:
                        job(self.worker_id)
            except Exception:
                logger.exception("task runner: claiming or housekeeping failed; trying again at the next poll")
            finally:
                close_old_connections()
            self._wake.wait(timeout=POLL_SECONDS)
            self._wake.clear()

    def _claim_ready(self) -> None:
        while len(self._running) < self.capacity and not self._stopping.is_set():
            claimed = self._claim()
            if claimed is None:
                return
            future = asyncio.run_coroutine_threadsafe(self._execute(claimed), self._loop)
            self._running.add(future)
            future.add_done_callback(self._running.discard)

    def _claim(self) -> Any:
        from django_tasks_db.models import DBTaskResult
        from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

        ready = DBTaskResult.objects.ready().filter(backend_name=self.backend)
        try:
            with exclusive_transaction(ready.db):
                claimed = ready.get_locked()
                if claimed is not None:
                    claimed.claim(self.worker_id)
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None  # another process is claiming; the next wake-up or poll tries again
            raise
        return claimed

    # ------------------------------------------------------------------------------------------ the loop
    async def _execute(self, claimed: Any) -> None:
        """Run one claimed task on the server's loop and record its end with the backend."""
        async with self._context():
            try:
                arguments = claimed.args_kwargs
                value = await claimed.task.acall(*arguments["args"], **arguments["kwargs"])
            except BaseException as exc:
                await sync_to_async(claimed.set_failed)(exc)
                if not isinstance(exc, Exception):
                    raise
                logger.exception("task %s (%s) failed", claimed.id, claimed.task_path)
            else:
                await sync_to_async(claimed.set_successful)(value)


_runner: dict[str, TaskRunner | None] = {"current": None}


def task_runner() -> TaskRunner | None:
    """This process's runner, once the server has started it (None in a management command or a test process)."""
    return _runner["current"]


def start_task_runner(
    loop: asyncio.AbstractEventLoop, context: Callable[[], AbstractAsyncContextManager] | None = None
) -> TaskRunner:
    runner = TaskRunner()
    runner.start(loop, context)
    _runner["current"] = runner
    return runner


def stop_task_runner() -> None:
    runner, _runner["current"] = _runner["current"], None
    if runner is not None:
        runner.stop()


_process_worker_id = new_worker_id()


def current_worker_id() -> str:
    """Who runs a task in this process: the runner's id, or (in `manage.py db_worker`) one for the process."""
    runner = task_runner()
    return runner.worker_id if runner is not None else _process_worker_id


def wake_task_runner() -> None:
    runner = task_runner()
    if runner is not None:
        runner.wake()
