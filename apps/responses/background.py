"""Background responses (`background: true`): computed by the task engine, not by the request that asked.

- **Create** checks and plans the response exactly as a foreground one (every refusal is still an HTTP error), then
  in one transaction (one statement on PostgreSQL: "one statement" below) stores it with its first events
  (`response.created`, `response.queued`), its `BackgroundRun` (the plan, as JSON) and the task's row
  (`run_background_response` below, django-tasks' database backend, in the responses store). When this process's
  task runner (apps/core/tasks.py) has room, the row is inserted already claimed for it, the response already
  `in_progress`, and the run starts at once, while that transaction commits: it writes nothing before the commit,
  and is cancelled, having written nothing, if the transaction fails. Otherwise the task waits, `queued`, for any
  process's runner.
- **Run** (any worker process, on any host that reaches the responses store): the task marks the response
  `in_progress` (unless its create did) and streams the model's answer, storing its events every `FLUSH_SECONDS`
  (so any process can stream them) and ending with the final response, its terminal event and the task's end (for
  the task engine) in one transaction (one statement on PostgreSQL). Every `HEARTBEAT_SECONDS` it records a sign
  of life and looks whether the response was cancelled.
- **Cancel** marks a queued or running response `cancelled` (nothing overwrites that: the run's final write only
  replaces `in_progress`); the run stops at once when it is in the same process, else at its next heartbeat.
- **A process that dies** stops the heartbeats of its runs: every live process looks (the task runner's
  housekeeping, every second) for runs silent for `STALE_AFTER` and fails them with a `response.failed` event, so a
  response is never left `in_progress` for more than about `STALE_AFTER` + 1 s after its process died.
- **Streams** (`stream: true` at create, or `GET /v1/responses/{id}?stream=true&starting_after=N`) read the stored
  events until the terminal one (or a final status: a cancelled response has none): at once when the run of this
  process stored more of them (or it was cancelled here), else every `READ_POLL_SECONDS` (a run in another
  process).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import Max, QuerySet, sql
from django.utils import timezone

from asgiref.sync import sync_to_async
from django_tasks import task

from apps.conversations.services import conversation_items_add
from apps.core.errors import BadRequestError, StackAdminError, UpstreamError
from apps.core.http import sse_event
from apps.core.principal import Principal
from apps.core.tasks import (
    current_worker_id,
    record_task_success,
    runner_with_room,
    task_result_row,
    task_success_write,
)
from apps.inference.selectors import model_resolve
from apps.responses.builder import ResponseBuilder, error_code
from apps.responses.models import BackgroundRun, ResponseEvent, ResponseStatus, StoredResponse
from apps.responses.plans import Plan, response_row, usage_columns
from apps.responses.selectors import response_get
from apps.responses.tool_loop import ToolLoop
from apps.storage.errors import reported_error
from apps.tools.config import tools_config
from apps.tools.server_tools import ToolSetupError, tools_from_specs

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05  # how late a running response's events may reach the store (a stream reads them from there)
HEARTBEAT_SECONDS = 1.0
STALE_AFTER = timedelta(seconds=10)  # a run silent this long belongs to a process that died
READ_POLL_SECONDS = 0.1
FINAL = (ResponseStatus.COMPLETED, ResponseStatus.FAILED, ResponseStatus.INCOMPLETE, ResponseStatus.CANCELLED)
ACTIVE = (ResponseStatus.QUEUED, ResponseStatus.IN_PROGRESS)
TERMINAL_EVENTS = ("response.completed", "response.failed", "response.incomplete")
WORKER_LOST = (
    "The server process computing this background response stopped (no sign of life for {seconds} s); create it again."
)

_local: dict[str, _Run] = {}  # the runs of this process, so a cancel here stops them at once
_readers: dict[str, set[asyncio.Event]] = {}  # the streams of this process, woken when this process stores events
_prepared: dict[str, tuple] = {}  # (plan, builder, store) of the runs this process claimed as it created them


def _alias() -> str:
    return router.db_for_write(StoredResponse)


def _events_row(response_id: str, events: list[dict]) -> ResponseEvent:
    """Events as one row (see ResponseEvent)."""
    first, last = events[0]["sequence_number"], events[-1]["sequence_number"]
    return ResponseEvent(response_id=response_id, first_sequence=first, last_sequence=last, events=events)


def _store_events(response_id: str, events: list[dict]) -> None:
    if events:
        ResponseEvent.objects.bulk_create([_events_row(response_id, events)])


# ------------------------------------------------------------------------------------------ one statement
# On PostgreSQL each statement is a round trip to the server, and a transaction two more (`BEGIN`, `COMMIT`): the
# create's rows and the run's final write are each sent as one statement instead (a data-modifying `WITH`, which
# PostgreSQL runs atomically, all or nothing, like the transaction it replaces). The parts are Django's own SQL
# for the same `bulk_create` and `update` calls, compiled and not run. SQLite has no `INSERT` or `UPDATE` in `WITH`,
# and no round trips: there the same writes stay one transaction.
def _one_statement() -> bool:
    return connections[_alias()].vendor == "postgresql"


def _insert_sql(obj: models.Model) -> tuple[str, list]:
    """The `INSERT` that `bulk_create([obj])` runs (the primary key left to the database when obj has none)."""
    model = type(obj)
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.generated and not (field.primary_key and getattr(obj, field.attname) is None)
    ]
    query = sql.InsertQuery(model)
    query.insert_values(fields, [obj])
    [(text, params)] = query.get_compiler(using=_alias()).as_sql()
    return text, list(params)


def _update_sql(rows: QuerySet, values: dict) -> tuple[str, list]:
    """The `UPDATE` that `rows.update(**values)` runs."""
    query = rows.query.chain(sql.UpdateQuery)
    query.add_update_values(values)
    text, params = query.get_compiler(using=_alias()).as_sql()
    return text, list(params)


def _execute_with(parts: list[tuple[str, list]], last: tuple[str, list]) -> None:
    """`parts` then `last` as one statement: `WITH w0 AS (part), w1 AS (part) last`."""
    names = [f"w{number}" for number in range(len(parts))]
    text = ", ".join(f"{name} AS ({part})" for name, (part, _) in zip(names, parts, strict=True))
    params = [param for _, part_params in parts for param in part_params]
    with connections[_alias()].cursor() as cursor:
        cursor.execute(f"WITH {text} {last[0]}", [*params, *last[1]])


def _last_sequence(response_id: str) -> int | None:
    return ResponseEvent.objects.filter(response_id=response_id).aggregate(n=Max("last_sequence"))["n"]


# ------------------------------------------------------------------------------------------ plan <-> JSON
def _plan_json(plan: Plan) -> dict:
    principal = plan.principal
    return {
        "created_at": plan.created_at.isoformat(),
        "model_id": plan.model.model_id,
        "echo": plan.echo,
        "input_items": plan.input_items,
        "history_items": plan.history_items,
        "messages": plan.messages,
        "upstream_body": plan.upstream_body,
        "principal": {
            "name": principal.name,
            "attributes": principal.attributes,
            "via": principal.via,
            "operator": principal.operator,
        },
        "prompt_id": plan.prompt_id,
        "prompt_version": plan.prompt_version,
        "previous_response_id": plan.previous_response_id,
        "conversation_id": plan.conversation_id,
        "prompt_labels": list(plan.prompt_labels),
        "origin": plan.origin,
        # Server-side tools without secrets (a request whose MCP tools carry headers cannot run in the background).
        "server_tools": [tool.spec() for tool in plan.server_tools],
        "max_tool_calls": plan.max_tool_calls,
    }


async def _plan_from_json(response_id: str, data: dict) -> Plan:
    return Plan(
        response_id=response_id,
        created_at=datetime.fromisoformat(data["created_at"]),
        model=await model_resolve(model_id=data["model_id"]),
        store=True,
        stream=True,
        echo=data["echo"],
        input_items=data["input_items"],
        history_items=data.get("history_items") or [],
        messages=data["messages"],
        upstream_body=data["upstream_body"],
        principal=Principal(**data["principal"]),
        prompt_id=data["prompt_id"],
        prompt_version=data["prompt_version"],
        previous_response_id=data["previous_response_id"],
        conversation_id=data["conversation_id"],
        prompt_labels=tuple(data.get("prompt_labels") or ()),
        origin=data.get("origin") or "api",
        server_tools=tools_from_specs(
            data.get("server_tools") or [],
            history_items=data.get("history_items") or [],
            input_items=data["input_items"],
        ),
        max_tool_calls=data.get("max_tool_calls"),
    )


def _builder(plan: Plan) -> ResponseBuilder:
    return ResponseBuilder(
        response_id=plan.response_id,
        created_at=int(plan.created_at.timestamp()),
        echo=plan.echo,
        logprobs=plan.logprobs,
    )


# ------------------------------------------------------------------------------------------ create
@dataclass
class _Created:
    """The rows a background response starts with, built on the event loop before its run may touch the builder
    (`queued`: the response as OpenAI answers the create)."""

    queued: dict
    task: Any  # the task engine's row (django_tasks_db's DBTaskResult)
    response: StoredResponse
    run: BackgroundRun
    events: list[dict]


def _created(plan: Plan, builder: ResponseBuilder, worker_id: str | None) -> _Created:
    """With `worker_id` (this process has room) the task is already claimed for it and the response already
    `in_progress`; otherwise both wait, `queued`, for any process's runner."""
    queued = builder.response(ResponseStatus.QUEUED)
    events = [builder.event("response.created", response=queued), builder.event("response.queued", response=queued)]
    stored, run = queued, {"response_id": plan.response_id, "plan": _plan_json(plan)}
    task = task_result_row(run_background_response, kwargs={"response_id": plan.response_id}, worker_id=worker_id)
    if worker_id is not None:
        stored = {**queued, "status": ResponseStatus.IN_PROGRESS}
        events.append(builder.event("response.in_progress", response=stored))
        run.update(worker_id=worker_id, heartbeat_at=task.started_at)
    return _Created(
        queued=queued,
        task=task,
        response=response_row(plan=plan, response=stored, messages=plan.messages),
        run=BackgroundRun(**run, task_id=str(task.id)),
        events=events,
    )


def _store_created(created: _Created) -> dict:
    """In one transaction, one `INSERT` each (`bulk_create`, without save()'s machinery, as the write queue does):
    the task, the response, its run and its first events."""
    events = _events_row(created.response.public_id, created.events)
    if _one_statement():
        rows = [created.task, created.response, created.run, events]
        _execute_with([_insert_sql(row) for row in rows[:-1]], _insert_sql(events))
        for row in rows:  # saved, as bulk_create leaves them: the runner saves the task's end on its row
            row._state.adding, row._state.db = False, _alias()
        return created.queued
    with transaction.atomic(using=_alias()):
        type(created.task).objects.bulk_create([created.task])
        StoredResponse.objects.bulk_create([created.response])
        BackgroundRun.objects.bulk_create([created.run])
        ResponseEvent.objects.bulk_create([events])
    return created.queued


def _unless_stored(response_id: str, running: asyncio.Task) -> Callable[[asyncio.Future], None]:
    """A run started before its response was stored is cancelled, having written nothing, if it never is."""

    def check(store: asyncio.Future) -> None:
        if store.cancelled() or store.exception() is not None:
            _prepared.pop(response_id, None)
            running.cancel()

    return check


async def background_create(plan: Plan) -> dict | AsyncIterator[bytes]:
    """Store the planned response with its task; the response (`queued`, as OpenAI answers), or with `stream` its
    event stream. When this process has room, the response is computed here, starting at once: its model call
    begins while the create's transaction stores it (the run writes nothing before that has committed)."""
    plan.echo = {**plan.echo, "background": True}
    # Streamed from the model whatever the caller asked: the events are what any process streams or resumes.
    plan.upstream_body = {**plan.upstream_body, "stream": True, "stream_options": {"include_usage": True}}
    builder = _builder(plan)
    runner = runner_with_room()
    created = _created(plan, builder, runner.worker_id if runner else None)
    # A task of its own, shielded below: a client that disconnects does not leave the run waiting on a store
    # that did commit.
    store = asyncio.ensure_future(sync_to_async(_store_created)(created))
    if runner is not None:
        _prepared[plan.response_id] = (plan, builder, store)
        store.add_done_callback(_unless_stored(plan.response_id, runner.spawn(created.task)))
    queued = await asyncio.shield(store)
    if plan.stream:
        return _tail(plan.response_id, -1)
    return queued


# ------------------------------------------------------------------------------------------ run
def _start(response_id: str, worker_id: str) -> tuple[dict, dict] | None:
    """Mark a queued response `in_progress`, with its `response.in_progress` event: (the run's plan, that event),
    or None when it was cancelled or deleted before it started. (The write comes first: on SQLite a transaction
    that reads before it writes may fail to take the lock.)"""
    with transaction.atomic(using=_alias()):
        rows = StoredResponse.objects.filter(public_id=response_id)
        if not rows.filter(status=ResponseStatus.QUEUED).update(status=ResponseStatus.IN_PROGRESS):
            BackgroundRun.objects.filter(response_id=response_id).update(finished=True)
            return None
        snapshot = {**rows.values_list("response", flat=True).get(), "status": ResponseStatus.IN_PROGRESS}
        rows.update(response=snapshot)
        event = {"type": "response.in_progress", "sequence_number": 2, "response": snapshot}
        _store_events(response_id, [event])
        run = BackgroundRun.objects.filter(response_id=response_id)
        run.update(worker_id=worker_id, heartbeat_at=timezone.now())
        return run.values_list("plan", flat=True).get(), event


def _heartbeat(response_id: str) -> str | None:
    """Record a sign of life; the response's status now (None once deleted)."""
    BackgroundRun.objects.filter(response_id=response_id).update(heartbeat_at=timezone.now())
    return StoredResponse.objects.filter(public_id=response_id).values_list("status", flat=True).first()


def _store_final(plan: Plan, response: dict, messages: list[dict], events: list[dict]) -> None:
    """The final response and its last events, unless it was cancelled (or deleted) meanwhile; the run finished,
    and the task's end recorded, in the same commit."""
    rows = StoredResponse.objects.filter(public_id=plan.response_id, status=ResponseStatus.IN_PROGRESS)
    values = {
        "status": response["status"],
        "response": response,
        "messages": messages,
        **usage_columns(plan=plan, response=response),
    }
    run = BackgroundRun.objects.filter(response_id=plan.response_id)
    if _one_statement():
        _store_final_at_once(rows, values, run, _events_row(plan.response_id, events))
        return
    with transaction.atomic(using=_alias()):
        if rows.update(**values):
            _store_events(plan.response_id, events)
        run.update(finished=True)
        record_task_success(response["status"])


def _store_final_at_once(rows: QuerySet, values: dict, run: QuerySet, events: ResponseEvent) -> None:
    """`_store_final` as one statement: the events are inserted only when the response was (still) running."""
    update, update_params = _update_sql(rows, values)
    parts = [(f"{update} RETURNING 1", update_params), _update_sql(run, {"finished": True})]
    task = task_success_write(values["status"])
    # The task engine's table is in the responses store (apps.storage.databases), so its end goes in too.
    together = task is not None and task[0].db == _alias()
    if together:
        parts.append(_update_sql(task[0], task[1]))
    insert, insert_params = _insert_sql(events)
    head, _, row = insert.rpartition(" VALUES ")
    _execute_with(parts, (f"{head} SELECT {row.removeprefix('(').removesuffix(')')} FROM w0", insert_params))
    if together:
        task[2]()  # committed: the runner does not record the end again
    elif task is not None:
        record_task_success(values["status"])


def _run_finished(response_id: str) -> None:
    BackgroundRun.objects.filter(response_id=response_id).update(finished=True)


class _Run:
    """One background response being computed in this process."""

    def __init__(self, plan, builder: ResponseBuilder, task: asyncio.Task, stored: asyncio.Future | None) -> None:
        self.plan = plan
        self.builder = builder
        self.task = task
        self.stored = stored  # the create's transaction, when the run started before it committed
        self.buffer: list[dict] = []
        self.cancelled = False
        self.finishing = False  # its final write has begun: only a cancel by request may stop it now
        self._stop_flushing = asyncio.Event()
        self.loop = ToolLoop(plan, builder, max_rounds=tools_config().max_rounds) if plan.server_tools else None

    def cancel(self) -> None:
        self.cancelled = True
        self.task.cancel()

    async def wait_stored(self) -> None:
        """Return once the response's rows are stored; nothing of the run is written before. A response that was
        not stored (the create's transaction failed) ends its run as a stopping process does: nothing written."""
        if self.stored is not None:
            try:
                await asyncio.shield(self.stored)
            except Exception:
                raise asyncio.CancelledError from None
            self.stored = None

    async def flush(self) -> None:
        if self.buffer:
            await self.wait_stored()
            events, self.buffer = self.buffer, []
            await sync_to_async(_store_events)(self.plan.response_id, events)
            _changed(self.plan.response_id)

    async def flush_every(self) -> None:
        while not self._stop_flushing.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):  # no task of its own, unlike wait_for
                    await self._stop_flushing.wait()
            if not self._stop_flushing.is_set():
                await self.flush()

    async def heartbeat(self) -> None:
        await self.wait_stored()
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            status = await sync_to_async(_heartbeat)(self.plan.response_id)
            if status != ResponseStatus.IN_PROGRESS and not self.finishing:
                self.cancel()  # cancelled or deleted through another process, or failed by a watcher
                return

    async def stream(self) -> tuple[dict, dict]:
        """The model's answer, its events buffered as they come; (final response, terminal event)."""
        builder = self.builder
        flusher = asyncio.create_task(self.flush_every())
        try:
            if self.loop is not None:
                async for event in self.loop.events():
                    self.buffer.append(event)
                return builder.terminal(builder.final_status())
            chunks = await self.plan.model.chat_stream(self.plan.upstream_body)
            async with aclosing(chunks):
                async for chunk in chunks:
                    self.buffer += builder.on_chunk(chunk)
            self.buffer += builder.finish()
            return builder.terminal(builder.final_status())
        except StackAdminError as exc:
            return builder.failed(exc)
        except ToolSetupError as exc:
            return builder.failed(UpstreamError(exc.message, code=exc.code))
        finally:
            self._stop_flushing.set()
            await flusher

    async def finish(self, response: dict, terminal: dict) -> str:
        await self.wait_stored()
        self.finishing = True
        messages = self.plan.messages
        if response["status"] != ResponseStatus.FAILED:
            assistant = self.builder.assistant_message()
            messages = [*messages, *([assistant] if assistant else [])]
            if self.loop is not None:
                messages = self.loop.stored_messages()
            if self.plan.conversation_id:
                try:
                    await sync_to_async(conversation_items_add)(
                        conversation_id=self.plan.conversation_id,
                        items=[*self.plan.input_items, *response["output"]],
                        principal=self.plan.principal,
                    )
                except StackAdminError as exc:
                    response, terminal = self.builder.failed(exc)
                    messages = self.plan.messages
        await sync_to_async(_store_final)(self.plan, response, messages, [*self.buffer, terminal])
        _changed(self.plan.response_id)
        return response["status"]


async def _prepare(response_id: str) -> tuple | None:
    """(plan, builder, the create's store or None) of a response to compute here: made by the request that
    created it in this process, or read from its run once it is marked started; None when it was cancelled (or
    deleted) before it started."""
    prepared = _prepared.pop(response_id, None)
    if prepared is not None:
        return prepared
    started = await sync_to_async(_start)(response_id, current_worker_id())
    if started is None:
        return None
    data, event = started
    plan = await _plan_from_json(response_id, data)
    builder = _builder(plan)
    builder.sequence = event["sequence_number"] + 1  # after created, queued and in_progress
    return plan, builder, None


@task()
async def run_background_response(response_id: str) -> str:
    """The task the engine runs (django-tasks' database backend; apps/core/tasks.py): compute a background
    response; returns its final status."""
    return await background_run(response_id=response_id)


async def background_run(*, response_id: str) -> str:
    """The task: compute one background response; its final status. Whatever goes wrong ends it `failed` (a
    failure to record even that is left to the processes that watch heartbeats)."""
    try:
        prepared = await _prepare(response_id)
    except Exception as exc:  # the model is gone from the config, the store is down, ...
        error = reported_error(exc)
        await sync_to_async(_fail_now)(response_id, {"code": error_code(error), "message": error.message})
        _changed(response_id)
        return ResponseStatus.FAILED
    if prepared is None:
        return ResponseStatus.CANCELLED
    plan, builder, stored = prepared
    run = _local[response_id] = _Run(plan, builder, asyncio.current_task(), stored)
    heartbeat = asyncio.create_task(run.heartbeat())
    try:
        response, terminal = await run.stream()
        return await run.finish(response, terminal)
    except asyncio.CancelledError:
        if not run.cancelled:
            raise  # the process is stopping: another one fails the response once the heartbeats stop
        asyncio.current_task().uncancel()
        await sync_to_async(_run_finished)(response_id)
        return ResponseStatus.CANCELLED
    except Exception as exc:
        error = reported_error(exc)
        await run.wait_stored()
        await sync_to_async(_fail_now)(response_id, {"code": "server_error", "message": error.message})
        _changed(response_id)
        return ResponseStatus.FAILED
    finally:
        heartbeat.cancel()
        _local.pop(response_id, None)


# ------------------------------------------------------------------------------------------ cancel
def _cancel(response_id: str, principal: Principal) -> dict:
    row = response_get(response_id=response_id, principal=principal)
    row.require_allowed(principal, "update")
    if not row.response.get("background"):
        raise BadRequestError(
            "Only responses created with background=true can be cancelled.", param="response_id", code=None
        )
    if row.status == ResponseStatus.CANCELLED:
        return row.response
    cancelled = {**row.response, "status": ResponseStatus.CANCELLED}
    with transaction.atomic(using=_alias()):
        done = StoredResponse.objects.filter(public_id=response_id, status__in=ACTIVE).update(
            status=ResponseStatus.CANCELLED, response=cancelled
        )
        if done and row.status == ResponseStatus.QUEUED:
            BackgroundRun.objects.filter(response_id=response_id).update(finished=True)
    if not done:  # it finished meanwhile
        status = StoredResponse.objects.filter(public_id=response_id).values_list("status", flat=True).first()
        if status == ResponseStatus.CANCELLED:
            return cancelled
        raise BadRequestError(f"Cannot cancel a {status or 'deleted'} response.", param="response_id", code=None)
    return cancelled


async def response_cancel(*, response_id: str, principal: Principal) -> dict:
    """OpenAI's cancel: a queued or running background response becomes `cancelled` (returned); cancelling one
    already cancelled returns it; a finished or foreground one is a 400."""
    cancelled = await sync_to_async(_cancel)(response_id, principal)
    _changed(response_id)
    run = _local.get(response_id)
    if run is not None:
        run.cancel()
    return cancelled


# ------------------------------------------------------------------------------------------ streams
def _stream_start(response_id: str, starting_after: int | None, principal: Principal) -> None:
    row = response_get(response_id=response_id, principal=principal)
    if not row.response.get("background"):
        raise BadRequestError(
            "Only a background response (created with background=true) can be streamed after it was created.",
            param="stream",
            code=None,
        )
    if starting_after is None or row.status not in FINAL:
        return
    last = _last_sequence(response_id)
    if last is not None and starting_after > last:
        raise BadRequestError(
            f"Invalid 'starting_after': {starting_after}; the stream of response '{response_id}' ends with "
            f"sequence number {last}.",
            param="starting_after",
            code="invalid_value",
        )


def _events_after(response_id: str, after: int) -> tuple[str | None, list[dict]]:
    """The response's status, then its events after `after` (read in that order: a final status read first means
    every event was already stored)."""
    status = StoredResponse.objects.filter(public_id=response_id).values_list("status", flat=True).first()
    rows = ResponseEvent.objects.filter(response_id=response_id, last_sequence__gt=after).order_by("first_sequence")
    events = [event for batch in rows.values_list("events", flat=True) for event in batch]
    return status, [event for event in events if event["sequence_number"] > after]


def _changed(response_id: str) -> None:
    """Wake this process's streams of the response: it has more events stored, or a final status."""
    for reader in _readers.get(response_id, ()):
        reader.set()


async def _tail(response_id: str, after: int) -> AsyncIterator[bytes]:
    woken = asyncio.Event()
    _readers.setdefault(response_id, set()).add(woken)
    try:
        while True:
            woken.clear()
            status, events = await sync_to_async(_events_after)(response_id, after)
            for event in events:
                yield sse_event(event["type"], event)
                after = event["sequence_number"]
                if event["type"] in TERMINAL_EVENTS:
                    return
            if status is None or status in FINAL:
                return
            with suppress(TimeoutError):
                async with asyncio.timeout(READ_POLL_SECONDS):
                    await woken.wait()
    finally:
        readers = _readers[response_id]
        readers.discard(woken)
        if not readers:
            del _readers[response_id]


async def response_stream(
    *, response_id: str, starting_after: int | None, principal: Principal
) -> AsyncIterator[bytes]:
    """A background response's events after `starting_after` (all of them without it), until it ends; what cannot
    be streamed is an error before the stream starts."""
    await sync_to_async(_stream_start)(response_id, starting_after, principal)
    return _tail(response_id, -1 if starting_after is None else starting_after)


# ------------------------------------------------------------------------------------------ processes that died
def _fail(response_id: str, error: dict) -> None:
    """A queued or running response failed where no model error says so (inside a transaction): its status, and
    the `response.failed` event that ends its streams."""
    row = StoredResponse.objects.filter(public_id=response_id, status__in=ACTIVE).first()
    if row is None:
        return
    failed = {**row.response, "status": ResponseStatus.FAILED, "error": error}
    row.status, row.response = ResponseStatus.FAILED, failed
    row.save(update_fields=["status", "response"])
    event = {"type": "response.failed", "sequence_number": (_last_sequence(response_id) or 0) + 1, "response": failed}
    _store_events(response_id, [event])


def _fail_now(response_id: str, error: dict) -> None:
    with transaction.atomic(using=_alias()):
        BackgroundRun.objects.filter(response_id=response_id).update(finished=True)
        _fail(response_id, error)


def _fail_lost(run: BackgroundRun, message: str) -> None:
    from django_tasks_db.compat import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    with transaction.atomic(using=_alias()):
        if not BackgroundRun.objects.filter(pk=run.pk, finished=False).update(finished=True):
            return  # another process got there first
        _fail(run.response_id, {"code": "server_error", "message": message})
        DBTaskResult.objects.filter(id=run.task_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=timezone.now(),
            exception_class_path="apps.responses.background.WorkerLost",
            traceback=message,
        )
    logger.warning("background response %s failed: %s", run.response_id, message)


def background_reap(worker_id: str) -> None:
    """Housekeeping (apps.core.tasks): fail the runs whose process stopped giving signs of life."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - STALE_AFTER
    message = WORKER_LOST.format(seconds=int(STALE_AFTER.total_seconds()))
    silent = list(BackgroundRun.objects.filter(finished=False, heartbeat_at__lt=cutoff))
    # Claimed by a process that died before the run began (a moment's window): the task is running, the run not.
    running = DBTaskResult.objects.running().filter(started_at__lt=cutoff)
    claimed = {str(pk) for pk in running.values_list("id", flat=True)}
    if claimed:
        silent += BackgroundRun.objects.filter(finished=False, heartbeat_at=None, task_id__in=claimed)
    for run in silent:
        _fail_lost(run, message)
