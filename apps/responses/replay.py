"""Replay against a candidate: re-run stored requests of a prompt with another version, to see what it would have
answered before it is promoted.

- **Create** (`replay_create`) picks the stored responses made with the source (a version, or a label: the
  responses made while the label pointed at the version they used, from their `prompt_labels`), within a time
  window, the `sample` most recent of them, among the responses the user may read only. Everything that can be
  refused is checked first (the prompt, the candidate version, the model, an empty or oversized selection), then
  one transaction stores the run, one item per response (the request to re-run, taken now, and the original
  answer) and its task (django-tasks' database backend, as background responses do: apps/core/tasks.py). A
  process whose runner has room claims the task at once.
- **Run** (`replay_execute`, any process's task runner or `manage.py db_worker`): each item's request goes through
  the responses service (`response_create`, as `/v1` calls it) with the candidate version, the original's
  variables and input (its whole input: the history it continued and its own turn), and the original's model or
  the one chosen. Up to `usage.replay_concurrency` run at once. A request that fails (the model server, a
  variable the candidate declares and the original never had) is recorded on its item and the run goes on.
- **Cancel** marks the run cancelled; the task stops at once in its own process (else at its next heartbeat) and
  the items not answered yet are marked cancelled. **Delete** removes the run and its items (stopping it too).
- **A process that dies** stops the heartbeats of its runs; any live process's housekeeping fails them.

The replayed calls are sent with `store: false`: they are not stored as responses. They live in the replay's own
rows (which are deleted with it), so they never appear in `responses.list()` nor count in usage, and no usage
query needs to know they exist.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import router, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from asgiref.sync import sync_to_async
from django_tasks import task

from apps.core.access import require_create
from apps.core.errors import BadRequestError, NotFoundError, StackAdminError
from apps.core.principal import Principal
from apps.core.tasks import runner_with_room
from apps.inference.selectors import model_resolve
from apps.prompts import selectors as prompt_selectors
from apps.responses import services as response_services
from apps.responses.config import usage_config
from apps.responses.models import (
    ReplayItem,
    ReplayItemState,
    ReplayRun,
    ReplayStatus,
    ResponseOrigin,
    ResponseStatus,
    StoredResponse,
)
from apps.responses.selectors import response_output_text, responses_visible
from apps.storage.errors import reported_error

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0
STALE_AFTER = timedelta(seconds=10)  # a running replay silent this long belongs to a process that died
ACTIVE = (ReplayStatus.QUEUED, ReplayStatus.RUNNING)
# What a replay re-runs: requests that reached the model (a background response still going has no answer yet).
REPLAYABLE = (ResponseStatus.COMPLETED, ResponseStatus.INCOMPLETE, ResponseStatus.FAILED)
PROCESS_DIED = "The server process running this replay stopped (no sign of life for {seconds} s); start it again."

_local: dict[str, _Running] = {}  # the replays running in this process, so a cancel here stops them at once


def _alias() -> str:
    return router.db_for_write(ReplayRun)


def replay_max() -> int:
    """The most stored responses one replay may re-run (the run config's `usage.replay_max`)."""
    return usage_config().replay_max


def replay_not_found(run_id: str) -> NotFoundError:
    return NotFoundError(f"Replay '{run_id}' not found.", param="replay_id")


# ------------------------------------------------------------------------------------------ reads
@dataclass(frozen=True)
class ReplaySpec:
    """What the user chose: the source (a version or a label), the window, the sample size, the candidate and
    the model (empty: each original's own)."""

    prompt_id: str
    candidate_version: int
    source_version: int | None = None
    source_label: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sample: int | None = None
    model: str = ""


def replay_sources(*, spec: ReplaySpec, principal: Principal) -> QuerySet[StoredResponse]:
    """The stored responses a replay of `spec` re-runs, newest first: made through the API (not the playground)
    with the source, in the window, readable by `principal` (filtered in the query)."""
    rows = responses_visible(principal=principal).filter(
        prompt_id=spec.prompt_id, origin=ResponseOrigin.API, status__in=REPLAYABLE
    )
    if spec.source_label:
        rows = rows.filter(prompt_labels__contains=f"|{spec.source_label}|")
    else:
        rows = rows.filter(prompt_version=spec.source_version)
    if spec.since is not None:
        rows = rows.filter(created_at__gte=spec.since)
    if spec.until is not None:
        rows = rows.filter(created_at__lt=spec.until)
    return rows.order_by("-created_at", "-id")


def _require_prompt(prompt_id: str, principal: Principal) -> None:
    """A 404 unless `principal` may read the prompt (replays show what its versions answered)."""
    prompt_selectors.prompt_get(prompt_id=prompt_id, principal=principal)


def replay_list(*, prompt_id: str, principal: Principal, limit: int = 50) -> list[ReplayRun]:
    _require_prompt(prompt_id, principal)
    runs = ReplayRun.objects.visible_to(principal).filter(prompt_id=prompt_id).defer("acting_as")
    return list(runs.order_by("-created_at", "-id")[:limit])


def replay_get(*, prompt_id: str, run_id: str, principal: Principal) -> ReplayRun:
    _require_prompt(prompt_id, principal)
    return (
        ReplayRun.objects.visible_to(principal)
        .filter(prompt_id=prompt_id)
        .defer("acting_as")
        .get_by_id(run_id, missing=replay_not_found)
    )


def replay_items(*, run: ReplayRun) -> list[ReplayItem]:
    return list(run.items.defer("request").order_by("position"))


@dataclass
class Side:
    """Totals of one side of the table (the originals, or the candidate's answers)."""

    answered: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0
    cost: float | None = None  # None: a model without a price was used

    @property
    def latency_ms_mean(self) -> int | None:
        return round(self.latency_ms / self.answered) if self.answered else None


@dataclass
class ReplayTotals:
    original: Side = field(default_factory=Side)
    candidate: Side = field(default_factory=Side)


def _cost(prices: dict, model: str, input_tokens: int, output_tokens: int) -> float | None:
    price = prices.get(model)
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def replay_totals(*, run: ReplayRun) -> ReplayTotals:
    """Tokens, latency, errors and cost (run config `usage.prices`) of both sides, summed in the database per
    model (a price is per model). The originals are counted over the items answered by the candidate too, so
    the two sides compare the same requests."""
    prices = usage_config().prices
    items = run.items.filter(state__in=(ReplayItemState.DONE, ReplayItemState.ERROR))
    failed = Q(state=ReplayItemState.ERROR) | Q(status=ResponseStatus.FAILED)
    original = items.values("model").annotate(
        answered=Count("id", filter=~Q(original_status=ResponseStatus.FAILED)),
        errors=Count("id", filter=Q(original_status=ResponseStatus.FAILED)),
        input_tokens=Sum("original_input_tokens"),
        output_tokens=Sum("original_output_tokens"),
        latency_ms=Sum("original_latency_ms", filter=~Q(original_status=ResponseStatus.FAILED)),
    )
    candidate = items.values("model").annotate(
        answered=Count("id", filter=~failed),
        errors=Count("id", filter=failed),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        latency_ms=Sum("latency_ms", filter=~failed),
    )
    totals = ReplayTotals()
    for side, rows in ((totals.original, original), (totals.candidate, candidate)):
        side.cost = 0.0
        for row in rows.order_by("model"):
            _add(side, row, prices)
    return totals


def _add(side: Side, row: dict, prices: dict) -> None:
    """One model's sums into a side's totals; its cost is unknown once one model has no price."""
    side.answered += row["answered"]
    side.errors += row["errors"]
    side.input_tokens += row["input_tokens"] or 0
    side.output_tokens += row["output_tokens"] or 0
    side.latency_ms += row["latency_ms"] or 0
    cost = _cost(prices, row["model"], row["input_tokens"] or 0, row["output_tokens"] or 0)
    side.cost = None if cost is None or side.cost is None else side.cost + cost


# ------------------------------------------------------------------------------------------ create
def _last_user_text(items: list[dict]) -> str:
    for item in reversed(items):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or () if isinstance(p, dict) and "text" in p)
    return ""


def _replayed_request(row: StoredResponse, spec: ReplaySpec) -> dict:
    """The create request that re-runs `row` with the candidate: the same variables and the same input (the items
    it continued and its own, so no `previous_response_id` or conversation is needed, nor changed), the same
    string `instructions`, the original's model unless one was chosen. The candidate's own settings apply (the
    stored response cannot tell a request's settings from its version's)."""
    echo = row.response.get("prompt") or {}
    body: dict = {
        "prompt": {"id": spec.prompt_id, "version": str(spec.candidate_version), "variables": echo.get("variables")},
        "model": spec.model or row.model,
        "store": False,
    }
    if row.input_items:
        body["input"] = row.input_items
    instructions = row.response.get("instructions")
    if isinstance(instructions, str) and instructions:
        body["instructions"] = instructions
    return body


def _item(run: ReplayRun, position: int, row: StoredResponse, spec: ReplaySpec) -> ReplayItem:
    error = row.response.get("error") or {}
    return ReplayItem(
        run=run,
        position=position,
        response_id=row.public_id,
        request=_replayed_request(row, spec),
        model=spec.model or row.model,
        input_text=_last_user_text(row.input_items),
        original_status=row.status,
        original_text=response_output_text(row.response),
        original_error=error.get("message") or "" if row.status == ResponseStatus.FAILED else "",
        original_input_tokens=row.input_tokens,
        original_output_tokens=row.output_tokens,
        original_latency_ms=row.latency_ms,
    )


def _checked_selection(spec: ReplaySpec, principal: Principal) -> list[StoredResponse]:
    """The responses to replay; an empty selection or one over `usage.replay_max` is refused."""
    limit = usage_config().replay_max
    if spec.sample is not None and spec.sample > limit:
        raise BadRequestError(
            f"A replay re-runs at most {limit} responses (run config usage.replay_max); {spec.sample} were asked.",
            param="sample",
        )
    rows = replay_sources(spec=spec, principal=principal)
    picked = list(rows[: spec.sample if spec.sample is not None else limit + 1])
    source = f"label '{spec.source_label}'" if spec.source_label else f"version {spec.source_version}"
    if not picked:
        raise BadRequestError(
            f"No stored response you may read was made with {source} of this prompt in that time range: "
            "there is nothing to replay.",
            param="source",
        )
    if len(picked) > limit:
        raise BadRequestError(
            f"More than {limit} stored responses match (run config usage.replay_max): choose a sample size or a "
            "shorter time range.",
            param="sample",
        )
    return picked


def _acting_as(principal: Principal) -> dict:
    return {
        "name": principal.name,
        "attributes": principal.attributes,
        "via": principal.via,
        "operator": principal.operator,
    }


def _check_candidate(spec: ReplaySpec, principal: Principal) -> None:
    _require_prompt(spec.prompt_id, principal)
    if spec.source_label:
        prompt_selectors.validate_label(spec.source_label, param="source")
    try:
        prompt_selectors.prompt_version_get(
            prompt_id=spec.prompt_id, version=spec.candidate_version, principal=principal
        )
    except (NotFoundError, BadRequestError) as exc:
        raise BadRequestError(
            f"Prompt '{spec.prompt_id}' has no version {spec.candidate_version} to replay with.", param="candidate"
        ) from exc


def _store_created(spec: ReplaySpec, principal: Principal, created_by: str, worker_id: str | None):
    """In one transaction: the run, its items and its task (claimed for this process when it has room)."""
    require_create(principal, "response")  # what the playground needs: a replay makes the same calls
    _check_candidate(spec, principal)
    picked = _checked_selection(spec, principal)
    with transaction.atomic(using=_alias()):
        run = ReplayRun(
            public_id=f"replay_{secrets.token_hex(12)}",
            prompt_id=spec.prompt_id,
            source_version=spec.source_version,
            source_label=spec.source_label,
            candidate_version=spec.candidate_version,
            model=spec.model,
            since=spec.since,
            until=spec.until,
            sample=spec.sample,
            status=ReplayStatus.QUEUED,
            total=len(picked),
            created_by=created_by,
            created_at=timezone.now(),
            acting_as=_acting_as(principal),
        ).stamp(principal)
        run.save(using=_alias())
        ReplayItem.objects.bulk_create([_item(run, n, row, spec) for n, row in enumerate(picked, start=1)])
        enqueued = run_replay.enqueue(run_id=run.public_id)
        run.task_id = str(enqueued.id)
        if worker_id is not None:
            enqueued.db_result.claim(worker_id)
        run.save(update_fields=["task_id"], using=_alias())
    return run, enqueued.db_result


async def replay_create(*, spec: ReplaySpec, principal: Principal, created_by: str = "") -> ReplayRun:
    """Check and store a replay, and start it (here when this process has room, else in any process's runner).
    Every refusal is raised before anything is stored."""
    if spec.model:
        try:
            await model_resolve(model_id=spec.model)
        except NotFoundError as exc:
            raise BadRequestError(exc.message, param="model") from exc
    runner = runner_with_room()
    run, claimed = await sync_to_async(_store_created)(
        spec, principal, created_by, runner.worker_id if runner else None
    )
    if runner is not None:
        runner.spawn(claimed)
    return run


# ------------------------------------------------------------------------------------------ run
@task()
async def run_replay(run_id: str) -> str:
    """The task the engine runs (apps/core/tasks.py): a replay; returns its final status."""
    return await replay_execute(run_id=run_id)


def _start(run_id: str) -> tuple[dict, list[tuple[int, dict]]] | None:
    """Mark a queued replay running: (who it acts as, its pending items as (id, request)), or None when it was
    cancelled or deleted before it started."""
    with transaction.atomic(using=_alias()):
        rows = ReplayRun.objects.filter(public_id=run_id)
        if not rows.filter(status=ReplayStatus.QUEUED).update(status=ReplayStatus.RUNNING, heartbeat_at=timezone.now()):
            return None
        acting_as = rows.values_list("acting_as", flat=True).get()
        pending = ReplayItem.objects.filter(run__public_id=run_id, state=ReplayItemState.PENDING).order_by("position")
        return acting_as, list(pending.values_list("id", "request"))


def _store_item(run_id: str, item_id: int, fields: dict) -> None:
    """An item's answer, and the run's progress, unless the run was cancelled (or deleted) meanwhile."""
    with transaction.atomic(using=_alias()):
        if not ReplayItem.objects.filter(id=item_id, state=ReplayItemState.PENDING).update(**fields):
            return
        failed = fields["state"] == ReplayItemState.ERROR or fields.get("status") == ResponseStatus.FAILED
        ReplayRun.objects.filter(public_id=run_id).update(
            processed=F("processed") + 1, errors=F("errors") + (1 if failed else 0), heartbeat_at=timezone.now()
        )


def _finish(run_id: str, status: str, message: str = "") -> None:
    """End a running replay (a cancelled or failed one keeps its status); what was not answered is cancelled."""
    with transaction.atomic(using=_alias()):
        ReplayRun.objects.filter(public_id=run_id, status=ReplayStatus.RUNNING).update(
            status=status, message=message, finished_at=timezone.now()
        )
        ReplayItem.objects.filter(run__public_id=run_id, state=ReplayItemState.PENDING).update(
            state=ReplayItemState.CANCELLED
        )


def _heartbeat(run_id: str) -> str | None:
    ReplayRun.objects.filter(public_id=run_id).update(heartbeat_at=timezone.now())
    return ReplayRun.objects.filter(public_id=run_id).values_list("status", flat=True).first()


async def _answer(request: dict, principal: Principal) -> dict:
    """One item re-run through the responses service, as `/v1` would run it: the fields its row gets."""
    started = time.monotonic()
    try:
        response = await response_services.response_create(
            request=response_services.response_request(body=request), principal=principal
        )
    except StackAdminError as exc:
        return {"state": ReplayItemState.ERROR, "error": exc.message}
    usage = response.get("usage") or {}
    return {
        "state": ReplayItemState.DONE,
        "status": response.get("status", ""),
        "text": response_output_text(response),
        "error": (response.get("error") or {}).get("message") or "",
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "latency_ms": round((time.monotonic() - started) * 1000),
    }


class _Running:
    """One replay being run in this process."""

    def __init__(self, run_id: str, principal: Principal, pending: list[tuple[int, dict]]) -> None:
        self.run_id = run_id
        self.principal = principal
        self.pending = list(reversed(pending))  # popped from the end: first item first
        self.task = asyncio.current_task()
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.task.cancel()

    async def worker(self) -> None:
        while self.pending:
            item_id, request = self.pending.pop()
            try:
                fields = await _answer(request, self.principal)
            except Exception as exc:  # not the caller's mistake nor the model's: recorded, and the run goes on
                logger.exception("replay %s: item %s failed", self.run_id, item_id)
                fields = {"state": ReplayItemState.ERROR, "error": reported_error(exc).message}
            await sync_to_async(_store_item)(self.run_id, item_id, fields)

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if await sync_to_async(_heartbeat)(self.run_id) != ReplayStatus.RUNNING:
                self.cancel()  # cancelled or deleted through another process, or failed by a watcher
                return


async def replay_execute(*, run_id: str) -> str:
    """Run a queued replay to its end; its final status."""
    started = await sync_to_async(_start)(run_id)
    if started is None:
        return ReplayStatus.CANCELLED
    acting_as, pending = started
    running = _local[run_id] = _Running(run_id, Principal(**acting_as), pending)
    heartbeat = asyncio.create_task(running.heartbeat())
    concurrency = usage_config().replay_concurrency
    message = ""
    try:
        await asyncio.gather(*(running.worker() for _ in range(min(concurrency, len(pending)) or 1)))
        status = ReplayStatus.COMPLETED
    except asyncio.CancelledError:
        if not running.cancelled:
            raise  # the process is stopping: another one fails the replay once the heartbeats stop
        asyncio.current_task().uncancel()
        status = ReplayStatus.CANCELLED
    except Exception as exc:  # the store failed under it: the run says so rather than waiting for the watchers
        logger.exception("replay %s failed", run_id)
        status, message = ReplayStatus.FAILED, f"The replay stopped: {reported_error(exc).message}"
    finally:
        heartbeat.cancel()
        _local.pop(run_id, None)
    await sync_to_async(_finish)(run_id, status, message)
    return status


# ------------------------------------------------------------------------------------------ cancel, delete
def _cancel(prompt_id: str, run_id: str, principal: Principal) -> ReplayRun:
    run = replay_get(prompt_id=prompt_id, run_id=run_id, principal=principal)
    run.require_allowed(principal, "update")
    with transaction.atomic(using=_alias()):
        stopped = ReplayRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
            status=ReplayStatus.CANCELLED, finished_at=timezone.now()
        )
        if stopped:
            ReplayItem.objects.filter(run=run, state=ReplayItemState.PENDING).update(state=ReplayItemState.CANCELLED)
    run.refresh_from_db(fields=["status", "finished_at", "processed", "errors"])
    if not stopped and run.status != ReplayStatus.CANCELLED:
        raise BadRequestError(f"This replay is already {run.status}; there is nothing to cancel.", param="replay_id")
    return run


async def replay_cancel(*, prompt_id: str, run_id: str, principal: Principal) -> ReplayRun:
    """Stop a queued or running replay: at once in this process, else at its next heartbeat. The answers already
    in are kept."""
    run = await sync_to_async(_cancel)(prompt_id, run_id, principal)
    running = _local.get(run_id)
    if running is not None:
        running.cancel()
    return run


def _delete(prompt_id: str, run_id: str, principal: Principal) -> None:
    _require_prompt(prompt_id, principal)
    runs = ReplayRun.objects.visible_to(principal).filter(prompt_id=prompt_id)
    runs.delete_by_id(run_id, principal=principal, missing=replay_not_found)  # its items go with it


async def replay_delete(*, prompt_id: str, run_id: str, principal: Principal) -> None:
    """The replay and its items (one still running stops)."""
    await sync_to_async(_delete)(prompt_id, run_id, principal)
    running = _local.get(run_id)
    if running is not None:
        running.cancel()


def replay_delete_rows(*, runs: QuerySet[ReplayRun]) -> None:
    """Delete replays an operator chose in the admin, with their items (those running stop at their next
    heartbeat)."""
    runs.delete()


# ------------------------------------------------------------------------------------------ processes that died
def replay_reap(worker_id: str) -> None:
    """Housekeeping (apps.core.tasks): fail the replays whose process stopped giving signs of life."""
    cutoff = timezone.now() - STALE_AFTER
    message = PROCESS_DIED.format(seconds=int(STALE_AFTER.total_seconds()))
    for run_id in ReplayRun.objects.filter(status=ReplayStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
        "public_id", flat=True
    ):
        with transaction.atomic(using=_alias()):
            if ReplayRun.objects.filter(public_id=run_id, status=ReplayStatus.RUNNING, heartbeat_at__lt=cutoff).update(
                status=ReplayStatus.FAILED, message=message, finished_at=timezone.now()
            ):
                ReplayItem.objects.filter(run__public_id=run_id, state=ReplayItemState.PENDING).update(
                    state=ReplayItemState.CANCELLED
                )
                logger.warning("replay %s failed: %s", run_id, message)
