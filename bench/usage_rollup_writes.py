"""What the usage rollup's triggers add to storing a response: the same responses (made with a prompt) inserted
as the write queue inserts them (one multi-row INSERT per batch, one transaction each), with the triggers and
again after dropping them, on SQLite or PostgreSQL; then a background response's two status updates and a delete.

    python bench/usage_rollup_writes.py [--backend sqlite|postgres] [--responses 20000] [--batch 1 64]

Prints microseconds per response for each batch size, with the triggers and then without (dropped once: the
median of five rounds each; run it twice on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import create_database, drop_database, postgres_config, use_home  # noqa: E402

ROUNDS = 5


def responses(count: int, prefix: str):
    from apps.responses.models import StoredResponse

    now = datetime.now(UTC)
    for i in range(count):
        yield StoredResponse(
            public_id=f"resp_{prefix}{i:08d}",
            created_at=now - timedelta(seconds=i * 7),
            model="fake-model",
            status="completed",
            response={"id": f"resp_{prefix}{i}", "status": "completed"},
            input_items=[],
            messages=[],
            prompt_id=f"pmpt_{i % 20:048x}",
            prompt_version=1 + i % 3,
            prompt_labels="|default|",
            input_tokens=100,
            output_tokens=20,
            reasoning_tokens=0,
            latency_ms=300,
            first_token_ms=None,
            owner_principal="bench",
        )


def insert_round(count: int, batch: int) -> float:
    """Microseconds per response, inserting `count` in transactions of `batch`."""
    from django.db import router, transaction

    from apps.responses.models import StoredResponse

    alias = router.db_for_write(StoredResponse)
    rows = list(responses(count, uuid.uuid4().hex[:10]))
    started = time.perf_counter()
    for start in range(0, count, batch):
        with transaction.atomic(using=alias):
            StoredResponse.objects.using(alias).bulk_create(rows[start : start + batch])
    return (time.perf_counter() - started) / count * 1e6


def update_delete_round(count: int) -> float:
    """Microseconds per response for a background response's writes: in_progress, completed, then a delete."""
    from django.db import router, transaction

    from apps.responses.models import StoredResponse

    alias = router.db_for_write(StoredResponse)
    ids = list(StoredResponse.objects.using(alias).values_list("public_id", flat=True)[:count])
    started = time.perf_counter()
    for public_id in ids:
        rows = StoredResponse.objects.using(alias).filter(public_id=public_id)
        with transaction.atomic(using=alias):
            rows.update(status="in_progress")
        with transaction.atomic(using=alias):
            rows.update(status="completed", output_tokens=21)
        with transaction.atomic(using=alias):
            rows.delete()
    return (time.perf_counter() - started) / len(ids) * 1e6


def drop_triggers() -> None:
    from django.db import connections, router

    from apps.responses.models import StoredResponse

    connection = connections[router.db_for_write(StoredResponse)]
    with connection.cursor() as cursor:
        for name in ("insert", "update", "delete"):
            suffix = " ON openai_responses" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS openai_responses_usage_{name}{suffix}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--responses", type=int, default=20000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 64])
    args = parser.parse_args()
    home = use_home()
    database = None
    if args.backend == "postgres":
        database = create_database("bench_rollup")
        os.environ["STACKADMIN_CONFIG"] = postgres_config(home, database)
    try:
        return run(args)
    finally:
        if database:
            drop_database(database)


def run(args) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_all", verbosity=0)
    results: dict[str, list[float]] = {}
    for phase in ("with triggers", "without triggers"):
        if phase == "without triggers":
            drop_triggers()
        for _ in range(ROUNDS):
            for batch in args.batch:
                results.setdefault(f"{phase}: insert, batches of {batch}", []).append(
                    insert_round(args.responses // ROUNDS, batch)
                )
            results.setdefault(f"{phase}: 2 updates + delete", []).append(update_delete_round(300))
    print(f"{args.backend}: microseconds per response (median of {ROUNDS} rounds)")
    for name, samples in results.items():
        print(f"  {name:<48} {statistics.median(samples):8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
