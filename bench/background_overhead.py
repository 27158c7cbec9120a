"""What background mode adds to a response's total time, at 1 client, with the instant fake model server.

Starts the fake (tests/support/fake_upstream.py) and a real `stackadmin run` (embedded SQLite by default, or
`--postgres DBNAME` for the responses store on the local PostgreSQL), then, alternating so that drift hits both
alike, times:

- foreground: `POST /v1/responses` until its answer;
- background: `POST /v1/responses` with `background: true`, then `GET /v1/responses/{id}` again and again
  (`--poll-interval` apart, default 0: at once) until the status is final, from the create to the final answer;
- streamed, the other way a client follows a background response: `stream: true` with and without
  `background: true`, from the create to the stream's terminal event (`response.completed`).

Prints p50/p90 of each, the differences (target: at most 5 ms at p50), and the polls a background response took;
then, in two blocks of the same size, the server's CPU per response of the first two kinds (less sensitive than
wall time to other work on the machine, which the load average printed beside it shows).

A real client polls less eagerly (OpenAI's guide sleeps 2 s between polls): then what background mode adds is
mostly that interval, not the server's; polling at once measures the server's share, which is what the target is
about (and the eager polls compete with the run for the server's CPU, so it is the harder case).

    python bench/background_overhead.py [--requests 300] [--workers 1] [--poll-interval 0] [--postgres DBNAME]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.responses_overhead import percentile, wait_ready  # noqa: E402
from tests.support.live_server import free_port  # noqa: E402
from tests.support.procstat import cpu_seconds  # noqa: E402

BODY = {"model": "fake-model", "input": "benchmark request"}
FINAL = ("completed", "failed", "incomplete", "cancelled")


def config(fake_url: str, postgres: str | None) -> str:
    text = (
        "providers:\n  inference:\n  - provider_id: fake\n    provider_type: remote::openai\n"
        f'    config: {{base_url: "{fake_url}", api_key: x}}\n'
        "registered_resources:\n  models:\n  - model_id: fake-model\n"
    )
    if postgres:
        text += (
            "storage:\n  backends:\n"
            '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
            '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
            f"    pg: {{type: sql_postgres, host: 127.0.0.1, user: postgres, db: {postgres}}}\n"
            "  stores:\n    responses: {backend: pg, table_name: openai_responses}\n"
        )
    return text


def foreground(http: httpx.Client) -> float:
    start = time.perf_counter()
    answer = http.post("/responses", json=BODY)
    elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200 or answer.json()["status"] != "completed":
        raise RuntimeError(f"foreground: {answer.status_code} {answer.text[:200]}")
    return elapsed


def background(http: httpx.Client, poll_interval: float) -> tuple[float, int]:
    start = time.perf_counter()
    created = http.post("/responses", json={**BODY, "background": True}).json()
    polls, status = 0, created["status"]
    while status not in FINAL:
        if poll_interval:
            time.sleep(poll_interval)
        status = http.get(f"/responses/{created['id']}").json()["status"]
        polls += 1
    elapsed = (time.perf_counter() - start) * 1000
    if status != "completed":
        raise RuntimeError(f"background: {status}")
    return elapsed, polls


def streamed(http: httpx.Client, background: bool) -> float:
    """Create with `stream: true`; milliseconds until the terminal event has arrived."""
    start = time.perf_counter()
    with http.stream("POST", "/responses", json={**BODY, "stream": True, "background": background}) as answer:
        for text in answer.iter_lines():
            if text.startswith("event: response.completed"):
                elapsed = (time.perf_counter() - start) * 1000
                break
        else:
            raise RuntimeError(f"stream (background={background}) ended without response.completed")
    return elapsed


def line(name: str, values: list[float]) -> str:
    return f"{name:<12} p50 {percentile(values, 50):7.2f} ms   p90 {percentile(values, 90):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="responses of each kind (default 300)")
    parser.add_argument("--workers", type=int, default=1, help="stackadmin worker processes (default 1)")
    parser.add_argument("--poll-interval", type=float, default=0.0, help="seconds between two polls (default 0)")
    parser.add_argument("--postgres", metavar="DBNAME", help="the responses store in this PostgreSQL database")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-background-"))
    fake_port, port = free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}/v1"
    (home / "run.yaml").write_text(config(fake_url, args.postgres))
    env = {**os.environ, "STACKADMIN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("STACKADMIN_UPSTREAM_CLASS", None)
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_upstream", "--port", str(fake_port)], cwd=ROOT, env=env
    )
    command = [sys.executable, "-m", "stackadmin.cli", "run", "--config", str(home / "run.yaml")]
    command += ["--port", str(port), "--workers", str(args.workers)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_ready(fake_url + "/models", fake)
        wait_ready(f"http://127.0.0.1:{port}/v1/health", server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=30) as http:
            for _ in range(20):  # warm the connection, the server and both paths
                foreground(http)
                background(http, args.poll_interval)
                streamed(http, False)
                streamed(http, True)
            fore, back, polls, fore_stream, back_stream = [], [], [], [], []
            for _ in range(args.requests):
                fore.append(foreground(http))
                elapsed, count = background(http, args.poll_interval)
                back.append(elapsed)
                polls.append(count)
                fore_stream.append(streamed(http, False))
                back_stream.append(streamed(http, True))
            cpu = {}
            for kind, call in (("foreground", foreground), ("background", lambda h: background(h, args.poll_interval))):
                before = cpu_seconds(server.pid)
                for _ in range(args.requests):
                    call(http)
                cpu[kind] = (cpu_seconds(server.pid) - before) * 1000 / args.requests
        store = f"PostgreSQL ({args.postgres})" if args.postgres else "SQLite"
        print(f"{args.requests} responses each, 1 client, {args.workers} worker(s), responses store on {store}")
        print(line("foreground", fore))
        print(line("background", back))
        print(f"{'added':<12} p50 {percentile(back, 50) - percentile(fore, 50):7.2f} ms")
        print(f"polls per background response: p50 {percentile(polls, 50)}, p90 {percentile(polls, 90)}")
        print(line("fg stream", fore_stream))
        print(line("bg stream", back_stream))
        print(f"{'added':<12} p50 {percentile(back_stream, 50) - percentile(fore_stream, 50):7.2f} ms (streamed)")
        print(f"server CPU per response: foreground {cpu['foreground']:.2f} ms, background {cpu['background']:.2f} ms")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for process in (server, fake):
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
