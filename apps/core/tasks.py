"""The task engine's worker inside every server process.

The engine is Django's Tasks API (`django_tasks`, the backport of Django 6's `django.tasks`) with its database
backend (`django_tasks_db`): a task is enqueued as a row, and any process that can reach that database claims it
(`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, an exclusive transaction on SQLite) and records how it ended.
Nothing else has to run: `stackadmin run` starts a `TaskRunner` in each worker process (`stackadmin/asgi.py`'s
lifespan), and `manage.py db_worker` (the backend's own worker) can run the same tasks on hosts that serve no HTTP.

Why the runner, and not only `db_worker`: `db_worker` polls (every second by default) and runs an async task on an
event loop of its own per call. Here:

- a task enqueued by a request of this process is claimed in the same transaction (its row inserted already
  claimed: `task_result_row`) and started at once (`runner_with_room`), with no polling delay and no other thread:
  a background response costs a few milliseconds more than a foreground one, not half a polling interval;
- tasks run concurrently (up to `capacity`) on the server's event loop, beside its requests, sharing the model
  servers' connection pools, and their database work goes through the same threads as the requests'
  (`context`, given by the ASGI entry point);
- tasks enqueued elsewhere (another worker process, another host) are claimed by the poll every `POLL_SECONDS`,
  when this process has room.

Apps add `housekeeping` that the runner's thread calls every `POLL_SECONDS` with its worker id (background
responses: heartbeats, cancellation, failing the work of processes that died).

Two shortcuts keep the engine's rows exact at less cost when a request's process runs the task itself (each one
write fewer per task; `bench/background_overhead.py`):

- `task_result_row` builds the task's row already claimed (`RUNNING`, this worker's id), which the app inserts
  in its own transaction: the engine's enqueue and claim, as one `INSERT` instead of an `INSERT` and an `UPDATE`.
  It is as recoverable as a row claimed by a poll: it names its worker, whose death the app's housekeeping notices.
  A task that must wait is built `READY`, exactly as the backend's `enqueue` builds it, for any runner's poll.
- `record_task_success`, called inside the task's own final transaction, records its end there (or
  `task_success_write`, for a task that makes it part of a statement of its own): the runner then skips its
  separate write (another commit, which on SQLite also takes the one write lock again). Under
  `db_worker`, or when a task does not call it, the backend records the end as usual.
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
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import OperationalError, close_old_connections, router, transaction
from django.utils import timezone

from asgiref.sync import sync_to_async

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often a process looks for tasks others enqueued, and runs the housekeeping
housekeeping: list[Callable[[str], None]] = []  # called on the runner's thread, each with the worker id
_executing: ContextVar[Any] = ContextVar("executing_task_result", default=None)  # set by TaskRunner._execute


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
        self._running: set[asyncio.Task] = set()  # touched on the loop's thread only
        self._recorded: set[Any] = set()  # ids of running tasks whose end is already recorded
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
        while self.has_room() and not self._stopping.is_set():
            claimed = self.claim()
            if claimed is None:
                return
            self._loop.call_soon_threadsafe(self.spawn, claimed)

    def has_room(self) -> bool:
        return len(self._running) < self.capacity

    def spawn(self, claimed: Any) -> asyncio.Task:
        """Run a claimed task on the loop (called on the loop's thread)."""
        running = self._loop.create_task(self._execute(claimed))
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        return running

    def claim(self, result_id: str | None = None) -> Any:
        """Claim the next ready task (or the one with this id, if it is still ready); None when there is none."""
        from django_tasks_db.models import DBTaskResult
        from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

        ready = DBTaskResult.objects.ready().filter(backend_name=self.backend)
        if result_id is not None:
            ready = ready.filter(id=result_id)
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
        """Run one claimed task on the server's loop and record its end with the backend. A task cancelled because
        the process is stopping is not recorded (the loop is closing); it stays running in the table, for the
        app's housekeeping in the processes that go on (background responses: their heartbeat watch)."""
        _executing.set((self, claimed))
        async with self._context():
            try:
                arguments = claimed.args_kwargs
                value = await claimed.task.acall(*arguments["args"], **arguments["kwargs"])
            except Exception as exc:
                logger.exception("task %s (%s) failed", claimed.id, claimed.task_path)
                if claimed.id not in self._recorded:
                    await _bookkeeping(claimed.set_failed, exc)
            else:
                if claimed.id not in self._recorded:
                    await _bookkeeping(claimed.set_successful, value)
            finally:
                self._recorded.discard(claimed.id)


def task_result_row(task: Any, *, kwargs: dict, worker_id: str | None) -> Any:
    """The row of `task` called with `kwargs`, not saved: as the database backend's `enqueue` makes it (`READY`,
    for any runner), or, with `worker_id`, already claimed by that worker (`RUNNING`, started now). The caller
    inserts it (`bulk_create`) in its own transaction, then `spawn`s a claimed one; `enqueue`'s signal is sent as
    the backend sends it."""
    from django_tasks.signals import task_enqueued
    from django_tasks.utils import normalize_json
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    backend = task.get_backend()
    backend.validate_task(task)
    row = DBTaskResult(
        id=backend._get_id(),
        args_kwargs=normalize_json({"args": [], "kwargs": kwargs}),
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        run_after=task.run_after or get_date_max(),  # as the backend's pre_save receiver sets it
        backend_name=backend.alias,
    )
    if worker_id is not None:
        # (`enqueued_at` is set as the row is inserted, by its field: a moment after this.)
        row.status, row.started_at, row.worker_ids = TaskResultStatus.RUNNING, timezone.now(), [worker_id]
    task_enqueued.send(type(backend), task_result=row.task_result)
    return row


def task_success_write(value: Any) -> tuple[Any, dict, Callable[[], None]] | None:
    """The write that records the running task's end (`SUCCESSFUL`, returning `value`), for a task that makes it
    part of its own final write: (the task's row as a queryset, the values of its `UPDATE`, what to call once that
    has committed, so that the runner does not write the end again). None when no runner of this process runs the
    task (`db_worker`, a direct call): the engine then records it as usual."""
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    executing = _executing.get()
    if executing is None:
        return None
    runner, claimed = executing
    rows = DBTaskResult.objects.using(router.db_for_write(DBTaskResult)).filter(
        id=claimed.id, status=TaskResultStatus.RUNNING
    )
    values = {
        "status": TaskResultStatus.SUCCESSFUL,
        "finished_at": timezone.now(),
        "return_value": value,
        "exception_class_path": "",
        "traceback": "",
    }
    return rows, values, lambda: runner._recorded.add(claimed.id)


def record_task_success(value: Any) -> None:
    """Inside the running task's own final transaction: record its end there (`task_success_write`)."""
    write = task_success_write(value)
    if write is None:
        return
    rows, values, recorded = write
    rows.update(**values)
    # Once committed only: if the transaction is rolled back, the runner records the end as usual.
    transaction.on_commit(recorded, using=rows.db)


def _handing_back(write: Callable[[Any], None], value: Any) -> None:
    try:
        write(value)
    finally:
        close_old_connections()


async def _bookkeeping(write: Callable[[Any], None], value: Any) -> None:
    """Record how a task ended, off the requests' database threads: once the task's own work is stored, nobody
    waits for this write, so it does not hold up the requests (polls of the result among them) queued there."""
    await sync_to_async(_handing_back, thread_sensitive=False)(write, value)


_runner: dict[str, TaskRunner | None] = {"current": None}


def task_runner() -> TaskRunner | None:
    """This process's runner, once the server has started it (None in a management command or a test process)."""
    return _runner["current"]


def start_task_runner(
    loop: asyncio.AbstractEventLoop, context: Callable[[], AbstractAsyncContextManager] | None = None
) -> TaskRunner:
    runner = TaskRunner(capacity=settings.STACKADMIN_TASK_CAPACITY)
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


def runner_with_room() -> TaskRunner | None:
    """This process's runner when it can take another task now: a request that enqueues a task claims it for this
    process in the same transaction (`DBTaskResult.claim`) and `spawn`s it at once, with no polling delay and no
    hop to the runner's thread. Otherwise the task waits, ready, for a runner's poll."""
    runner = task_runner()
    return runner if runner is not None and runner.has_room() else None
