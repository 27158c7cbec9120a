"""Queued, batched writes for the `inference` and `responses` SQL stores, acknowledged only once committed.

llama-stack queues store writes and returns before they land, so a completion read back at once (or a response
named by the next request's `previous_response_id`) may be "not found", and queued writes die with the process.
Here the queue sits between the request and the database but the request still waits for its own write:

- `submit()` puts a write on a bounded queue (`max_write_queue_size`; when it is full the caller waits for room,
  which is the back-pressure) and awaits a future.
- `num_writers` writer threads each take whatever is queued (up to `MAX_BATCH` writes) and commit it in one
  transaction (group commit), then resolve the futures. Under load many requests share one commit, so the store
  takes far fewer transactions than requests; at low load a write costs one hop to a writer thread.
- A write is a function doing ORM writes (`submit`), or a new row to insert (`insert`): consecutive inserts of one
  model in a batch go in as one multi-row INSERT (`bulk_create`), which costs less than half of `save()` per row.
- Read-your-write therefore holds in every worker process as soon as create returns, and nothing that was
  acknowledged can be lost. A write whose client went away stays queued and is still committed.
- On shutdown (ASGI lifespan, else interpreter exit) `drain_all()` lets the writers finish everything queued.

If a batch fails, its writes are retried one by one so that one bad row fails only its own request. On SQLite
there is one writer whatever `num_writers` says: SQLite takes one writer at a time, more threads would only queue
on its lock. Each writer thread keeps its own database connection; on PostgreSQL (CONN_MAX_AGE=0) it is handed
back to the pool after every batch.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, transaction

from apps.core import metrics
from apps.core.handlers import RunConfigHandler
from apps.storage.config import SqlSqliteBackend, storage_config
from apps.storage.databases import store_alias

logger = logging.getLogger(__name__)

MAX_BATCH = 64
_STOP = object()


@dataclass
class _Job:
    write: Callable[[], Any] | None  # None: insert `row`
    loop: asyncio.AbstractEventLoop | None
    future: asyncio.Future | None
    done: threading.Event | None = None
    result: Any = None
    error: BaseException | None = field(default=None)
    row: models.Model | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        if self.done is not None:
            self.done.set()
        if self.future is not None and self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(_resolve, self.future, result, error)
            except RuntimeError:
                pass  # the loop is closed (shutdown drain): nobody is waiting any more


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiting request was cancelled; the write happened all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WriteQueue:
    def __init__(self, *, name: str, alias: str, max_size: int, num_writers: int) -> None:
        self.name = name
        self.alias = alias
        self.num_writers = num_writers
        self._queue: queue.Queue = queue.Queue(maxsize=max_size)
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()

    def _ensure_started(self) -> None:
        if len(self._threads) == self.num_writers and all(t.is_alive() for t in self._threads):
            return
        with self._start_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.num_writers:
                thread = threading.Thread(
                    target=self._run, name=f"{self.name}-writer-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    async def submit(self, write: Callable[[], Any]) -> Any:
        """Queue `write` (a function doing ORM writes on this store) and return its result once committed."""
        loop = asyncio.get_running_loop()
        return await self._enqueue(_Job(write, loop, loop.create_future()))

    async def insert(self, row: models.Model) -> models.Model:
        """Queue a new, unsaved row of this store and return it (with its primary key) once committed."""
        loop = asyncio.get_running_loop()
        return await self._enqueue(_Job(None, loop, loop.create_future(), row=row))

    async def _enqueue(self, job: _Job) -> Any:
        self._ensure_started()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, job)
        metrics.write_queue_depth(self.name, self._queue.qsize())
        return await job.future

    def submit_sync(self, write: Callable[[], Any]) -> Any:
        """The same for synchronous callers (management commands, the admin)."""
        job = _Job(write, None, None, done=threading.Event())
        self._ensure_started()
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def pending(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------------------------------------ writers
    def _run(self) -> None:
        try:
            while True:
                job = self._queue.get()
                if job is _STOP:
                    return
                batch, stop = [job], False
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop = True
                        break
                    batch.append(more)
                metrics.write_queue_depth(self.name, self._queue.qsize())
                self._write(batch)
                if stop:
                    return
        finally:
            connections[self.alias].close()

    def _run_jobs(self, batch: list[_Job]) -> list[Any]:
        """Do a batch's writes in order (inside the caller's transaction); runs of inserts of one model are one
        multi-row INSERT."""
        results: list[Any] = []
        start = 0
        while start < len(batch):
            job = batch[start]
            if job.write is not None:
                results.append(job.write())
                start += 1
                continue
            model = type(job.row)
            end = start + 1
            while end < len(batch) and batch[end].write is None and type(batch[end].row) is model:
                end += 1
            rows = [j.row for j in batch[start:end]]
            results += model._default_manager.using(self.alias).bulk_create(rows)
            start = end
        return results

    def _write(self, batch: list[_Job]) -> None:
        connection = connections[self.alias]
        try:
            try:
                started = time.perf_counter()
                with transaction.atomic(using=self.alias):
                    results = self._run_jobs(batch)
                metrics.store_commit(self.name, time.perf_counter() - started)
            except Exception as exc:
                for job in batch:
                    if job.row is not None:  # rolled back: the row was not stored, whatever key it was given
                        job.row.pk = None
                        job.row._state.adding = True
                if len(batch) == 1:
                    logger.warning("%s store write failed: %s", self.name, exc)
                    batch[0].finish(error=exc)
                    return
                # Find the failing write(s): each on its own, so the others still land.
                for job in batch:
                    try:
                        with transaction.atomic(using=self.alias):
                            [result] = self._run_jobs([job])
                    except Exception as one_exc:
                        logger.warning("%s store write failed: %s", self.name, one_exc)
                        job.finish(error=one_exc)
                    else:
                        job.finish(result)
                return
            for job, result in zip(batch, results, strict=True):
                job.finish(result)
        finally:
            connection.close_if_unusable_or_obsolete()

    def drain(self, timeout: float | None = 30.0) -> bool:
        """Let the writers commit everything queued, then stop them. True when everything was written in time."""
        with self._start_lock:
            threads = [t for t in self._threads if t.is_alive()]
            if not threads:
                if self._queue.qsize():
                    # Writes were queued but no writer runs (e.g. never started): write them here.
                    while True:
                        try:
                            job = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if job is not _STOP:
                            self._write([job])
                return True
            for _ in threads:
                self._queue.put(_STOP)
            self._threads = []
        for thread in threads:
            thread.join(timeout)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            logger.error("%s store: writers %s did not finish within %ss", self.name, ", ".join(stuck), timeout)
        return not stuck


class WriteQueueHandler(RunConfigHandler[str, WriteQueue]):
    """The write queue of each SQL store (`inference`, `responses`) in this process, built on first use; when the run
    config changes, the old queues are drained (everything acknowledged is committed) before they are forgotten."""

    def create(self, key: str) -> WriteQueue:
        storage = storage_config()
        ref = storage.stores[key]
        sqlite = isinstance(storage.backend_of(key), SqlSqliteBackend)
        return WriteQueue(
            name=key,
            alias=store_alias(storage, key),
            max_size=ref.max_write_queue_size,
            num_writers=1 if sqlite else ref.num_writers,
        )

    def close(self, instance: WriteQueue) -> None:
        instance.drain()


write_queues = WriteQueueHandler()


def write_queue(store: str) -> WriteQueue:
    """The write queue of a SQL store (`inference` or `responses`) in this process, built on first use."""
    return write_queues[store]


def drain_all(timeout: float | None = 30.0) -> bool:
    return all([q.drain(timeout) for q in write_queues.all()])


atexit.register(drain_all)
