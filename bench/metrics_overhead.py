"""What metrics and the access log cost per request, two ways.

    python bench/metrics_overhead.py [--calls 200000] [--load] [--workers 2] [-- loadtest.py options]

1. In-process, exactly: the time of what a request adds when `server.metrics.enabled` is on (one counter
   increment and one histogram observation, `apps.core.metrics.http_request`), in prometheus-client's
   multiprocess mode (as `stackadmin run` uses it: values in memory-mapped files) and in its single-process mode,
   and the time of one access-log line (formatted, written to /dev/null).
2. In-process, end to end (`--requests`, default 3,000): `GET /v1/prompts/{id}` through the project's `/v1`
   handler wrapped as stackadmin/asgi.py wraps it, driven by httpx's ASGI transport, with metrics off, on, and on
   with the JSON access log, each three times in turn; prints the process CPU time per request (all threads).
3. With `--load`: the shared load script (prompt_get, 2,000 requests, 16 clients unless overridden after `--`)
   against `stackadmin run` with metrics off, on, and on with the JSON access log, one after another, twice; the
   figure to compare is the server's CPU per request, which a busy machine disturbs less than req/s.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "off": "server:\n  metrics: {enabled: false}\n",
    "metrics": "server:\n  metrics: {enabled: true}\n",
    "metrics+log": "server:\n  metrics: {enabled: true}\n  access_log: json\n",
}


def time_recording(calls: int, multiprocess_dir: str | None) -> float:
    """Microseconds per `metrics.http_request` call, in a fresh interpreter (the mode is fixed at import)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "stackadmin.settings"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if multiprocess_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
    code = f"""
import time
from apps.core.metrics import http_request
routes = ["/v1/prompts/<prompt_id>", "/v1/files", "/v1/responses", "/dashboard/"]
for i in range(1000):
    http_request("GET", routes[i % 4], 200, 0.004)
started = time.perf_counter()
for i in range({calls}):
    http_request("GET", routes[i % 4], 200, 0.004)
print((time.perf_counter() - started) / {calls} * 1e6)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def time_log_line(calls: int) -> float:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")
    import django

    django.setup()
    from stackadmin.observability import _log_line

    logger = logging.getLogger("bench.access")
    logger.propagate = False
    handler = logging.StreamHandler(open(os.devnull, "w"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    scope = {"path": "/v1/prompts/pmpt_x", "client": ("127.0.0.1", 5000)}
    started = time.perf_counter()
    for _ in range(calls):
        logger.info(
            _log_line("json", method="GET", route="/v1/prompts/<prompt_id>", status=200, seconds=0.004, scope=scope)
        )
    return (time.perf_counter() - started) / calls * 1e6


def in_process(requests: int) -> None:
    """CPU per request through the real `/v1` handler, as each variant installs it (a child process: the metrics
    mode is fixed when prometheus-client is imported)."""
    home = tempfile.mkdtemp(prefix="stackadmin-bench-")
    env = {**os.environ, "STACKADMIN_HOME": home, "DJANGO_SETTINGS_MODULE": "stackadmin.settings"}
    env["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(home, "metrics")
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
    env.pop("STACKADMIN_CONFIG", None)
    subprocess.run([sys.executable, "-c", _IN_PROCESS, str(requests)], cwd=ROOT, env=env, check=True)


_IN_PROCESS = """
import asyncio, logging, os, sys, time
import django
django.setup()
import httpx
from django.conf import settings
from django.core.management import call_command
from stackadmin.handler import APIHandler
from stackadmin.observability import observed

call_command("migrate_all", verbosity=0)
for handler in logging.getLogger("stackadmin.access").handlers:
    handler.setStream(open(os.devnull, "w"))
requests = int(sys.argv[1])
base = [m for m in settings.API_MIDDLEWARE if "RouteMiddleware" not in m]
variants = {"off": (False, None), "metrics": (True, None), "metrics+log": (True, "json")}

async def drive(app, path, n):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for _ in range(200):
            await client.get(path)
        started = time.process_time()
        for _ in range(n):
            assert (await client.get(path)).status_code == 200
        return (time.process_time() - started) / n * 1e6

async def main():
    app = observed(APIHandler())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        prompt_id = (await client.post("/v1/prompts", json={"prompt": "bench"})).json()["prompt_id"]
    results = {name: [] for name in variants}
    for _ in range(3):
        for name, (metrics_on, log) in variants.items():
            settings.STACKADMIN_METRICS_ENABLED, settings.STACKADMIN_ACCESS_LOG = metrics_on, log
            settings.API_MIDDLEWARE = (["stackadmin.observability.RouteMiddleware"] if metrics_on or log else []) + base
            results[name].append(await drive(observed(APIHandler()), f"/v1/prompts/{prompt_id}", requests))
    for name, runs in results.items():
        shown = ", ".join(f"{r:.0f}" for r in runs)
        print(f"in-process GET /v1/prompts/{{id}}, {name:12s} CPU per request: {min(runs):.0f} µs (runs: {shown})")

asyncio.run(main())
"""


def load(workers: int, extra: list[str]) -> None:
    extra = extra or ["--scenarios", "prompt_get", "--requests", "2000", "--concurrency", "16"]
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in (1, 2):
            for name, text in CONFIGS.items():
                config = Path(scratch) / f"{name}.yaml"
                config.write_text(text)
                print(f"--- round {round_}: {name}", flush=True)
                subprocess.run(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "loadtest_server.py"),
                        "--workers",
                        str(workers),
                        "--config",
                        str(config),
                        "--",
                        *extra,
                    ],
                    check=True,
                )


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from loadtest_server import split_passthrough

    argv, extra = split_passthrough(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=3000, help="in-process requests per variant and run")
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        multi = time_recording(args.calls, directory)
    single = time_recording(args.calls, None)
    print(f"metrics per request, multiprocess mode (stackadmin run): {multi:.1f} µs")
    print(f"metrics per request, single-process mode:                {single:.1f} µs")
    print(f"access log line (JSON, to /dev/null):                    {time_log_line(args.calls // 10):.1f} µs")
    in_process(args.requests)
    if args.load:
        load(args.workers, extra)


if __name__ == "__main__":
    main()
