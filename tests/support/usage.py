"""Stored responses with known figures, for the usage tests on SQLite (in-process) and PostgreSQL (a live server):
the same rows and the same expected answers on both."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.core.principal import Principal
from apps.prompts import services as prompts
from apps.responses.selectors import UsageFilter

DAY = datetime(2026, 11, 1, tzinfo=UTC)
SINCE = int(DAY.timestamp())
UNTIL = SINCE + 86400
DAY_FILTER = UsageFilter(since=DAY, until=datetime.fromtimestamp(UNTIL, UTC))


def at(hour: int, minute: int = 0, day: datetime = DAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


# (version, time, status, input, output, reasoning, latency_ms, first_token_ms, labels, model, origin)
ROWS = [
    (1, at(10, 5), "completed", 10, 5, 0, 100, None, "|default|", "fake-model", "api"),
    (1, at(10, 20), "completed", 20, 6, 2, 200, 50, "|default|", "fake-model", "api"),
    (1, at(11, 10), "failed", None, None, None, 300, None, "|default|staging|", "fake-model", "api"),
    (1, at(12, 0), "incomplete", 40, 16, 4, 400, 80, "|default|staging|", "fake-model", "api"),
    (2, at(11, 30), "completed", 5, 1, 0, 50, 10, "|production|", "alias-model", "api"),
    (2, at(12, 10), "completed", 7, 3, 0, 60, 20, "|default|production|", "fake-model", "api"),
    (2, at(12, 40), "failed", None, None, None, 1000, None, "|default|production|", "fake-model", "api"),
    # Left out by default: a playground run, and (outside the day) an older use.
    (2, at(12, 50), "completed", 9, 9, 0, 70, 30, "|default|production|", "fake-model", "playground"),
    (1, at(9, 0, DAY.replace(day=31, month=10)), "completed", 100, 100, 0, 10, None, "|default|", "fake-model", "api"),
]

# What `GET /v1/prompts/{id}/usage?since=SINCE&until=UNTIL&bucket=hour` answers for ROWS, every figure.
EXPECTED_VERSIONS = [
    {
        "version": 2,
        "requests": 3,
        "chat_completions": 0,
        "errors": 1,
        "incomplete": 0,
        "input_tokens": 12,
        "output_tokens": 4,
        "reasoning_tokens": 0,
        "latency_ms_p50": 60,
        "latency_ms_p95": 1000,
        "first_token_ms_p50": 10,
        "first_token_ms_p95": 20,
        "input_tokens_p50": 5,
        "output_tokens_p50": 1,
        "reasoning_tokens_p50": 0,
        "last_used_at": int(at(12, 40).timestamp()),
        "labels": ["default", "production"],
        "cost": None,
    },
    {
        "version": 1,
        "requests": 4,
        "chat_completions": 0,
        "errors": 1,
        "incomplete": 1,
        "input_tokens": 70,
        "output_tokens": 27,
        "reasoning_tokens": 6,
        "latency_ms_p50": 200,
        "latency_ms_p95": 400,
        "first_token_ms_p50": 50,
        "first_token_ms_p95": 80,
        "input_tokens_p50": 20,
        "output_tokens_p50": 6,
        "reasoning_tokens_p50": 2,
        "last_used_at": int(at(12, 0).timestamp()),
        "labels": ["default", "staging"],
        "cost": None,
    },
]
EXPECTED_SERIES = [
    {"start": int(at(10).timestamp()), "version": 1, "requests": 2, "errors": 0},
    {"start": int(at(11).timestamp()), "version": 1, "requests": 1, "errors": 1},
    {"start": int(at(11).timestamp()), "version": 2, "requests": 1, "errors": 0},
    {"start": int(at(12).timestamp()), "version": 1, "requests": 1, "errors": 0},
    {"start": int(at(12).timestamp()), "version": 2, "requests": 2, "errors": 1},
]


def usage_prompt(*, versions: int, principal: Principal | None = None) -> str:
    """A prompt with `versions` versions for the rows to name (owned by `principal` when given)."""
    owner = {"principal": principal} if principal else {}
    first = prompts.prompt_create(text="Answer {{ q }}", variables=["q"], **owner)
    for version in range(1, versions):
        prompts.prompt_update(
            prompt_id=first.prompt_id, text=f"v{version + 1}: {{{{ q }}}}", variables=["q"], version=version, **owner
        )
    return first.prompt_id


def row_fields(prompt_id: str, index: int, row: tuple) -> dict:
    """The StoredResponse fields of ROWS[index] (the JSON columns hold a minimal response)."""
    version, created, status, inp, out, reasoning, latency, first, labels, model, origin = row
    return {
        "public_id": f"resp_usage{index:04d}{prompt_id[-20:]}",
        "created_at": created,
        "model": model,
        "status": status,
        "response": {"id": f"resp_usage{index}", "status": status},
        "input_items": [],
        "messages": [],
        "prompt_id": prompt_id,
        "prompt_version": version,
        "prompt_labels": labels,
        "input_tokens": inp,
        "output_tokens": out,
        "reasoning_tokens": reasoning,
        "latency_ms": latency,
        "first_token_ms": first,
        "origin": origin,
    }


# Run by `manage.py shell -c` on a live server, to store ROWS in its own database.
INSERT_SCRIPT = """
import json
from datetime import datetime
from apps.responses.models import StoredResponse
rows = json.loads({rows!r})
for row in rows:
    row["created_at"] = datetime.fromisoformat(row["created_at"])
StoredResponse.objects.bulk_create([StoredResponse(**row) for row in rows])
print(len(rows))
"""


def insert_script(prompt_id: str, rows: list[tuple] = ROWS) -> str:
    import json

    fields = [row_fields(prompt_id, i, row) for i, row in enumerate(rows)]
    for f in fields:
        f["created_at"] = f["created_at"].isoformat()
    return INSERT_SCRIPT.format(rows=json.dumps(fields))


# ROWS again, written the ways responses are written: in two batches (as the write queue inserts), one of them
# first stored `queued` without figures and completed by an update (as a background response is), and three
# extra responses stored and deleted again (one by one, and two in one statement), one of them the newest use of
# its version (so the last use must be found again). What usage answers afterwards is what it answers for ROWS.
EVERY_WRITE_SCRIPT = """
from datetime import datetime
from apps.responses.models import StoredResponse
from tests.support.usage import ROWS, row_fields, at
prompt_id = {prompt_id!r}
rows = [StoredResponse(**row_fields(prompt_id, i, row)) for i, row in enumerate(ROWS)]
later = rows[5]
queued = {{"status": "queued", "input_tokens": None, "output_tokens": None, "reasoning_tokens": None,
          "latency_ms": None, "first_token_ms": None}}
final = {{name: getattr(later, name) for name in queued}}
for name, value in queued.items():
    setattr(later, name, value)
StoredResponse.objects.bulk_create(rows[:4])
StoredResponse.objects.bulk_create(rows[4:])
StoredResponse.objects.filter(public_id=later.public_id).update(status="in_progress")
StoredResponse.objects.filter(public_id=later.public_id).update(**final)
extra = [(2, at(12, 45), "completed", 1, 1, 1, 5, 5, "|default|production|", "fake-model", "api"),
         (1, at(10, 30), "failed", 3, 3, 3, 3, 3, "|default|", "fake-model", "api"),
         (1, at(23, 0), "completed", 2, 2, 2, 2, 2, "|canary|", "other-model", "api")]
StoredResponse.objects.bulk_create(StoredResponse(**row_fields(prompt_id, 100 + i, row)) for i, row in enumerate(extra))
StoredResponse.objects.get(public_id=row_fields(prompt_id, 100, extra[0])["public_id"]).delete()
gone = [row_fields(prompt_id, 100 + i, extra[i])["public_id"] for i in (1, 2)]
StoredResponse.objects.filter(public_id__in=gone).delete()
print(StoredResponse.objects.filter(prompt_id=prompt_id).count())
"""


def every_write_script(prompt_id: str) -> str:
    return EVERY_WRITE_SCRIPT.format(prompt_id=prompt_id)
