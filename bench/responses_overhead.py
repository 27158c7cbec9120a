"""What stackadmin adds to a model call: `/v1/responses` against calling the model server directly.

Starts the fake OpenAI-compatible server (tests/support/fake_upstream.py, answers at once) and a real
`stackadmin run` (SQLite, default stores, `store: true`), then for 1 and 16 concurrent clients measures:

- non-streaming: latency of `POST /v1/chat/completions` on the fake vs `POST /v1/responses` on stackadmin;
- streaming: time to the first byte of the body, the same two ways.

"Added" is stackadmin's percentile minus the direct one. Each client reuses one keep-alive connection.

It also prints the CPU each request costs each process (from /proc, a process and its workers), and the floor
under stackadmin's share: the CPU one `openai` SDK call to the fake costs on its own (the client the server uses,
called one at a time from this process). On a machine where clients, model server and stackadmin share the cores,
the added latency at 16 clients follows from those CPU figures: every request in flight waits for the others' CPU.

    python bench/responses_overhead.py [--requests 400] [--concurrency 1 16] [--prompt]

`--prompt` makes every response with a stored prompt (`prompt={"id": …}`), so each stored response also updates
its prompt's usage rollup.

Results are printed and written to bench/results/responses_overhead.json (`_prompt.json` with `--prompt`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.live_server import free_port  # noqa: E402
from tests.support.procstat import cpu_seconds  # noqa: E402

BODY_CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "benchmark request"}]}
BODY_RESPONSE = {"model": "fake-model", "input": "benchmark request"}


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def measure(url: str, body: dict | None, *, stream: bool, concurrency: int, requests: int) -> list[float]:
    """Per-request milliseconds: whole response, or (stream) time to the first body byte (the stream is read
    to its end before the next request)."""
    per_client = max(1, requests // concurrency)
    latencies: list[float] = []
    payload = {**body, "stream": True} if stream else body
    payload = payload or None
    method = "POST" if body else "GET"

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1)) as http:
            for _ in range(3):  # warm the connection and the server
                await http.request(method, url, json=payload)
            for _ in range(per_client):
                start = time.perf_counter()
                if stream:
                    async with http.stream("POST", url, json=payload) as response:
                        first = None
                        async for _chunk in response.aiter_raw():
                            first = first or time.perf_counter()
                        latencies.append((first - start) * 1000)
                else:
                    response = await http.request(method, url, json=payload)
                    latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}")

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def measured(url: str, body: dict | None, *, pids: dict[str, int], **kwargs) -> tuple[list[float], dict]:
    """`measure()`, plus the CPU milliseconds per request each process in `pids` spent meanwhile, and this
    process's own (the clients')."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    client_before = time.process_time()
    latencies = asyncio.run(measure(url, body, **kwargs))
    cpu = {name: round((cpu_seconds(pid) - before[name]) * 1000 / len(latencies), 3) for name, pid in pids.items()}
    cpu["client"] = round((time.process_time() - client_before) * 1000 / len(latencies), 3)
    return latencies, cpu


async def sdk_floor(base_url: str, calls: int) -> float:
    """CPU milliseconds of one model call through the server's own provider client (`OpenAIUpstream`: the `openai`
    SDK on its aiohttp transport), made one at a time from this process."""
    from apps.inference.config import InferenceProvider
    from apps.inference.upstream import OpenAIUpstream

    upstream = OpenAIUpstream(InferenceProvider("fake", "remote::openai", base_url, "x"))
    try:
        for _ in range(50):
            await upstream.chat(BODY_CHAT)
        start = time.process_time()
        for _ in range(calls):
            await upstream.chat(BODY_CHAT)
        return round((time.process_time() - start) * 1000 / calls, 3)
    finally:
        await upstream.aclose()


def summary(values: list[float]) -> dict:
    return {
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement (default 400)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--workers", type=int, default=1, help="stackadmin worker processes (default 1)")
    parser.add_argument(
        "--prompt", action="store_true", help="make every response with a stored prompt (it is stored for its usage)"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-responses-"))
    fake_port, port = free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}/v1"
    (home / "run.yaml").write_text(
        "providers:\n  inference:\n  - provider_id: fake\n    provider_type: remote::openai\n"
        f'    config: {{base_url: "{fake_url}", api_key: x}}\n'
        "registered_resources:\n  models:\n  - model_id: fake-model\n"
    )
    env = {**os.environ, "STACKADMIN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("STACKADMIN_UPSTREAM_CLASS", None)
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_upstream", "--port", str(fake_port)], cwd=ROOT, env=env
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stackadmin.cli",
            "run",
            "--config",
            str(home / "run.yaml"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    results: dict = {"requests": args.requests, "workers": args.workers, "runs": []}
    try:
        wait_ready(fake_url + "/models", fake)
        wait_ready(f"http://127.0.0.1:{port}/v1/health", server)
        pids = {"stackadmin": server.pid, "fake": fake.pid}
        # On uvloop, as uvicorn runs the server.
        results["sdk_call_cpu_ms"] = uvloop.run(sdk_floor(fake_url, args.requests))
        body_response = BODY_RESPONSE
        if args.prompt:
            created = httpx.post(
                f"http://127.0.0.1:{port}/v1/prompts", json={"prompt": "Benchmark {{ n }}.", "variables": ["n"]}
            ).json()
            body_response = {**BODY_RESPONSE, "prompt": {"id": created["prompt_id"], "variables": {"n": "1"}}}
            results["prompt"] = True
        for concurrency in args.concurrency:
            run: dict = {"concurrency": concurrency}
            for stream in (False, True):
                common = {"pids": pids, "stream": stream, "concurrency": concurrency, "requests": args.requests}
                direct, direct_cpu = measured(fake_url + "/chat/completions", BODY_CHAT, **common)
                ours, our_cpu = measured(f"http://127.0.0.1:{port}/v1/responses", body_response, **common)
                d, o = summary(direct), summary(ours)
                key = "first_byte" if stream else "non_streaming"
                run[key] = {
                    "direct_ms": d,
                    "stackadmin_ms": o,
                    "added_ms": {"p50": round(o["p50"] - d["p50"], 2), "p99": round(o["p99"] - d["p99"], 2)},
                    "cpu_ms_per_request": {"direct": direct_cpu, "through_stackadmin": our_cpu},
                }
            # The floor: the cheapest /v1 request stackadmin serves, at the same concurrency.
            health, health_cpu = measured(
                f"http://127.0.0.1:{port}/v1/health",
                None,
                pids=pids,
                stream=False,
                concurrency=concurrency,
                requests=args.requests,
            )
            run["health_ms"] = {**summary(health), "stackadmin_cpu_ms": health_cpu["stackadmin"]}
            results["runs"].append(run)
    finally:
        for process in (server, fake):
            process.terminate()
            process.wait(timeout=20)

    print(f"{'clients':>7} {'measure':<14} {'direct p50/p99':>16} {'stackadmin p50/p99':>20} {'added p50/p99':>16}")
    for run in results["runs"]:
        for key in ("non_streaming", "first_byte"):
            row = run[key]
            d, o, a = row["direct_ms"], row["stackadmin_ms"], row["added_ms"]
            print(
                f"{run['concurrency']:>7} {key:<14} {d['p50']:>7.2f}/{d['p99']:<8.2f} "
                f"{o['p50']:>9.2f}/{o['p99']:<10.2f} {a['p50']:>7.2f}/{a['p99']:<8.2f}"
            )
        h = run["health_ms"]
        print(f"{run['concurrency']:>7} {'GET /v1/health':<14} {'':>16} {h['p50']:>9.2f}/{h['p99']:<10.2f}")
    print()
    print("CPU ms per request (client = this script's clients; stackadmin = its worker processes; fake = the model):")
    print(f"{'':22} {'direct':>15} {'through stackadmin':>32}")
    print(f"{'clients':>7} {'measure':<14} {'client':>7} {'fake':>7} {'client':>10} {'stackadmin':>11} {'fake':>7}")
    for run in results["runs"]:
        for key in ("non_streaming", "first_byte"):
            direct, ours = (
                run[key]["cpu_ms_per_request"]["direct"],
                run[key]["cpu_ms_per_request"]["through_stackadmin"],
            )
            print(
                f"{run['concurrency']:>7} {key:<14} {direct['client']:>7.3f} {direct['fake']:>7.3f} "
                f"{ours['client']:>10.3f} {ours['stackadmin']:>11.3f} {ours['fake']:>7.3f}"
            )
        print(f"{run['concurrency']:>7} {'GET /v1/health':<14} {'':>26} {run['health_ms']['stackadmin_cpu_ms']:>11.3f}")
    print(
        f"One openai SDK call on its own (the server's client and transport): {results['sdk_call_cpu_ms']:.3f} ms CPU"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "responses_overhead_prompt.json" if args.prompt else "responses_overhead.json"
    (out / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
