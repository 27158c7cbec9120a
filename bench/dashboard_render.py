"""Server-side render time of the prompts dashboard with many prompts.

Creates N prompts (default 1,000; every third with three versions) through the prompts services in a throwaway
STACKADMIN_HOME (built-in SQLite config), signs a user in, and times requests through Django's full middleware
stack (sessions, auth, CSRF, htmx): the whole list page and each htmx partial. Prints p50/p99 per request and
whether it meets the target (full page <= 100 ms p50, partial <= 30 ms p50).

    python bench/dashboard_render.py [--prompts 1000] [--iterations 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import use_home  # noqa: E402

FULL_PAGE_TARGET_MS = 100.0
PARTIAL_TARGET_MS = 30.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()

    home = use_home()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from apps.prompts import services

    call_command("migrate_all", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-password-1")

    started = time.perf_counter()
    ids = []
    for i in range(args.prompts):
        text = f"Prompt {i}: summarise {{{{ document }}}} for {{{{ audience }}}} in a {{{{ tone }}}} tone.\n" * 3
        p = services.prompt_create(text=text, variables=["document", "audience", "tone"], message=f"prompt {i}")
        if i % 3 == 0:
            for version in (1, 2):
                services.prompt_update(
                    prompt_id=p.prompt_id,
                    text=text + f"Revision {version}.",
                    variables=["document", "audience", "tone"],
                    version=version,
                    set_as_default=version == 1,
                    message=f"revision {version}",
                )
        ids.append(p.prompt_id)
    print(f"created {args.prompts} prompts in {time.perf_counter() - started:.1f}s (home: {home})")

    client = Client()
    client.force_login(user)
    pid = ids[0]  # three versions
    hx = {"HX-Request": "true", "HX-Current-URL": "http://testserver/dashboard/"}

    def get(url: str, target: str | None = None):
        return lambda: client.get(url, headers={**hx, "HX-Target": target} if target else {})

    def post(url: str, data: dict, target: str):
        return lambda: client.post(url, data, headers={**hx, "HX-Target": target})

    def change():
        # A write elsewhere: the next list request rebuilds this process's prompt index first.
        services.prompt_version_set_default(prompt_id=pid, version=2 if change.flip else 1)
        change.flip = not change.flip

    change.flip = True

    cases = [
        ("full", "list page", get("/dashboard/")),
        ("info", "list page, after a change", get("/dashboard/"), change),
        ("full", "list page 10", get("/dashboard/?page=10")),
        ("full", "prompt detail page", get(f"/dashboard/{pid}/")),
        ("full", "edit page", get(f"/dashboard/{pid}/edit/")),
        ("full", "diff page", get(f"/dashboard/{pid}/diff/")),
        ("full", "activity page", get("/dashboard/activity/")),
        ("partial", "#prompt-list (refresh)", get("/dashboard/", "prompt-list")),
        ("info", "#prompt-list, after a change", get("/dashboard/", "prompt-list"), change),
        ("partial", "#prompt-list search", get("/dashboard/?q=prompt+99", "prompt-list")),
        ("partial", "#prompt-list page 10", get("/dashboard/?page=10", "prompt-list")),
        ("partial", "#prompt-workspace", get(f"/dashboard/{pid}/?version=2", "prompt-workspace")),
        ("partial", "#version-list", get(f"/dashboard/{pid}/?version=2", "version-list")),
        ("partial", "#version-status", get(f"/dashboard/{pid}/?version=2", "version-status")),
        ("partial", "#diff-view", get(f"/dashboard/{pid}/diff/?from=1&to=3", "diff-view")),
        ("partial", "#edit-notice", get(f"/dashboard/{pid}/edit/notice/?base=3", "edit-notice")),
        ("partial", "#delete-confirm", get(f"/dashboard/{pid}/delete/", "delete-confirm")),
        ("partial", "#label-form", get(f"/dashboard/{pid}/?version=2", "label-form")),
        ("partial", "#history-list (refresh)", get("/dashboard/activity/", "history-list")),
        ("partial", "#history-list, one prompt", get(f"/dashboard/activity/?prompt={pid}", "history-list")),
        ("partial", "#history-list, label filter", get("/dashboard/activity/?label=production", "history-list")),
        (
            "partial",
            "#variable-chips",
            post(
                "/dashboard/analyze/",
                {"text": "Hi {{ a }} {{ b }} {{ c", "variables": ["a", "z"]},
                "variable-chips",
            ),
        ),
        (
            "partial",
            "#preview-output",
            post(f"/dashboard/{pid}/versions/3/preview/", {"var_document": "the report"}, "preview-output"),
        ),
    ]

    cold = time.perf_counter()
    assert client.get("/dashboard/").status_code == 200
    print(f"first list request (builds the per-process index): {1000 * (time.perf_counter() - cold):.1f} ms\n")

    print(f"{'request':36} {'p50 ms':>8} {'p99 ms':>8}  target")
    failures = 0
    for kind, name, request, *before in cases:
        response = request()
        assert response.status_code == 200, (name, response.status_code)
        for _ in range(5):
            request()
        samples = []
        for _ in range(args.iterations):
            for step in before:
                step()
            t0 = time.perf_counter()
            request()
            samples.append(1000 * (time.perf_counter() - t0))
        p50, p99 = statistics.median(samples), percentile(samples, 99)
        if kind == "info":
            # The first list request after any write also rebuilds this process's prompt index (selectors).
            print(f"{name:36} {p50:8.2f} {p99:8.2f}  (includes rebuilding the index of every prompt)")
            continue
        target = FULL_PAGE_TARGET_MS if kind == "full" else PARTIAL_TARGET_MS
        ok = p50 <= target
        failures += not ok
        print(f"{name:36} {p50:8.2f} {p99:8.2f}  {'ok' if ok else 'SLOW'} (p50 <= {target:.0f})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
