"""Render time of the prompt page's usage chart and table with many stored responses.

Creates 100 prompts (three versions each) through the prompts services in a throwaway STACKADMIN_HOME, stores
N responses made with them (default 1,000,000, spread evenly over the last 30 days, with tokens, latencies and
labels) straight into the responses table, signs a user in, and times through Django's full middleware stack:
the whole prompt page (usage of the last 7 days), the usage region as the htmx partial for 24 hours, 7 and 30
days and with the label filter, the list page (sparklines), and the `/v1` usage selector over all time. Prints
p50/p95 per request and whether the page meets the target (<= 100 ms p50).

    python bench/prompt_usage.py [--responses 1000000] [--backend sqlite|postgres] [--iterations 30] [--keep]
    python bench/prompt_usage.py --reuse HOME

`--backend postgres` puts the responses store in a fresh database on 127.0.0.1:5432 (user postgres), dropped
afterwards unless `--keep`. `--reuse HOME` times again on the home (and kept database) of an earlier run; its
migrations are applied first, so a run before a migration and one after it time the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import create_database, drop_database, postgres_config, use_home  # noqa: E402

TARGET_MS = 100.0
PROMPTS = 100
DAYS = 30
COLUMNS = (
    "public_id created_at model status response input_items messages prompt_id prompt_version previous_response_id "
    "conversation_id owner_principal access_attributes access_keys prompt_labels input_tokens output_tokens "
    "reasoning_tokens latency_ms first_token_ms origin"
).split()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rows(prompt_ids: list[str], count: int, now: datetime):
    rng = random.Random(7)
    span = DAYS * 86400
    statuses = ["completed"] * 90 + ["failed"] * 5 + ["incomplete"] * 5
    for i in range(count):
        prompt_id = prompt_ids[i % len(prompt_ids)]
        version = rng.choice((1, 2, 2, 3, 3, 3))
        status = rng.choice(statuses)
        created = now - timedelta(seconds=rng.random() * span)
        labels = "|default|production|" if version == 3 else "|staging|" if version == 2 else ""
        yield (
            f"resp_bench{i:012d}{uuid.uuid4().hex[:8]}",
            created,
            "fake-model",
            status,
            "{}",
            "[]",
            "[]",
            prompt_id,
            version,
            "",
            "",
            "",
            None,
            "",
            labels,
            rng.randint(50, 2000),
            rng.randint(10, 800),
            rng.randint(0, 200),
            rng.randint(200, 9000),
            rng.randint(50, 900) if i % 2 else None,
            "api",
        )


def insert(prompt_ids: list[str], count: int) -> None:
    from django.db import connections, router, transaction

    from apps.responses.models import StoredResponse

    alias = router.db_for_write(StoredResponse)
    connection = connections[alias]
    now = datetime.now(UTC)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO openai_responses ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    batch: list[tuple] = []
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        for row in rows(prompt_ids, count, now):
            batch.append(row)
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    if connection.vendor == "postgresql":
        # What autovacuum does to a table after a bulk load: statistics, and the visibility map that lets the usage
        # statements read the covering index alone.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE openai_responses")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(label: str, fn, iterations: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    p50 = statistics.median(samples)
    print(f"{label:<48} p50 {p50:7.1f} ms   p95 {percentile(samples, 95):7.1f} ms")
    return p50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--reuse", metavar="HOME", help="time again on a home an earlier run left behind")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database (for --reuse)")
    args = parser.parse_args()

    home = use_home(args.reuse)
    database = None
    if args.reuse and (Path(home) / "run.yaml").exists():  # a PostgreSQL run kept with --keep
        os.environ["STACKADMIN_CONFIG"] = str(Path(home) / "run.yaml")
        args.backend = "postgres"
    elif args.backend == "postgres":
        database = create_database("bench_usage")
        os.environ["STACKADMIN_CONFIG"] = postgres_config(home, database)
    try:
        return run(args)
    finally:
        if database and not args.keep:
            drop_database(database)


def run(args) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from apps.prompts import services

    call_command("migrate_all", verbosity=0)
    if args.reuse:
        from apps.responses.models import StoredResponse

        user = get_user_model().objects.get(username="bench")
        ids = sorted(set(StoredResponse.objects.values_list("prompt_id", flat=True)[:1000]))
        return measure(args, user, ids)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    ids = []
    for i in range(PROMPTS):
        p = services.prompt_create(text=f"Prompt {i} for {{{{ x }}}}", variables=["x"])
        for version in (1, 2):
            services.prompt_update(
                prompt_id=p.prompt_id, text=f"v{version + 1} {{{{ x }}}}", variables=["x"], version=version
            )
        ids.append(p.prompt_id)
    started = time.perf_counter()
    insert(ids, args.responses)
    print(
        f"{args.backend}: stored {args.responses:,} responses over {PROMPTS} prompts and {DAYS} days "
        f"in {time.perf_counter() - started:.0f} s (home: {os.environ['STACKADMIN_HOME']})"
    )
    return measure(args, user, ids)


def measure(args, user, ids: list[str]) -> int:
    from django.test import Client

    from apps.responses.selectors import prompt_usage

    client = Client()
    client.force_login(user)
    pid = ids[0]
    hx = {"HX-Request": "true", "HX-Target": "prompt-usage", "HX-Current-URL": "http://testserver/dashboard/"}

    def get(url: str, headers: dict | None = None):
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, response.status_code
        return response

    page = timed("prompt page (usage of the last 7 days)", lambda: get(f"/dashboard/{pid}/"), args.iterations)
    for key in ("24h", "7d", "30d"):
        url = f"/dashboard/{pid}/?usage_range={key}"
        timed(f"usage region, htmx partial, {key}", lambda url=url: get(url, hx), args.iterations)
    for key in ("7d", "30d"):
        url = f"/dashboard/{pid}/?usage_range={key}&usage_label=production"
        timed(f"usage region, {key}, label production", lambda url=url: get(url, hx), args.iterations)
    timed("list page (50 sparklines, 14 days)", lambda: get("/dashboard/"), args.iterations)
    timed("usage selector, all time (JSON route's work)", lambda: prompt_usage(prompt_id=pid), args.iterations)
    body = get(f"/dashboard/{pid}/").content.decode()
    assert 'class="usage-chart"' in body
    print(json.dumps({"backend": args.backend, "page_p50_ms": round(page, 1), "target_ms": TARGET_MS}))
    print("PASS" if page <= TARGET_MS else "FAIL", f"prompt page p50 {page:.1f} ms (target <= {TARGET_MS:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
