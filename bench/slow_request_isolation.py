"""Does one slow request hold up the others on the same worker? p50/p99 of ordinary `/v1` requests, with and
without one 5-second request in flight.

    python bench/slow_request_isolation.py [--seconds 5] [--clients 8] [--rounds 1] [--target-ms 50]

Starts `stackadmin run` from this checkout with one worker, its conversations and files stores in a throwaway
PostgreSQL database (see loadtest_conversations_files.py), and times a mix of ordinary requests (conversation get,
prompt get, conversation items list, in turn) from `--clients` concurrent clients, for `--seconds` each run:

- alone;
- while one slow request is in flight on that worker: a metadata update (`POST /v1/conversations/{id}`) of a
  conversation whose row this script keeps locked for `--seconds` (`SELECT ... FOR UPDATE` in a transaction of its
  own), as any long transaction on that conversation would (another process's bulk write, an operator's psql
  session, a migration). The update waits inside PostgreSQL, in the synchronous database work of its real code path
  (`conversation_update` locks the row), and costs no CPU while it waits, so the difference between the runs is the
  isolation of requests, not the load the slow request puts on the machine. The mix starts once PostgreSQL shows
  the update waiting for the lock and stops issuing requests when the lock is released; requests still in flight
  then (those held up behind the update) are counted with the time they took.

`--rounds` alternates the two runs that many times. Prints p50/p99 of each (all requests of the mix, and per
route), the p99 increase, and PASS/FAIL against `--target-ms` (the hardening issue's 50 ms); exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest_conversations_files import PG, Server  # the sibling script


def message(n: int) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"item {n} " * 8}]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def connect(database: str, *, autocommit: bool = True) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(
        host=PG["host"], port=PG["port"], user=PG["user"], dbname=database, autocommit=autocommit
    )


async def setup(http: httpx.AsyncClient) -> tuple[list[tuple[str, str]], str]:
    """The mix (route name, path) and the conversation the slow request updates."""
    conversation = (await http.post("/v1/conversations", json={"items": [message(n) for n in range(20)]})).json()
    prompt = (await http.post("/v1/prompts", json={"prompt": "Hello {{name}}", "variables": ["name"]})).json()
    locked = (await http.post("/v1/conversations", json={"metadata": {"slow": "yes"}})).json()
    mix = [
        ("conversation get", f"/v1/conversations/{conversation['id']}"),
        ("prompt get", f"/v1/prompts/{prompt['prompt_id']}"),
        ("conversation items list", f"/v1/conversations/{conversation['id']}/items"),
    ]
    return mix, locked["id"]


async def run_mix(http: httpx.AsyncClient, mix, clients: int, until: asyncio.Event, into: dict) -> None:
    """Each client sends the mix's requests in turn, one at a time, until `until` is set."""
    turns = itertools.count()

    async def client() -> None:
        while not until.is_set():
            name, path = mix[next(turns) % len(mix)]
            started = time.perf_counter()
            response = await http.get(path)
            into[name].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(client() for _ in range(clients)))


async def after(seconds: float, event: asyncio.Event) -> None:
    await asyncio.sleep(seconds)
    event.set()


async def alone(http: httpx.AsyncClient, mix, clients: int, seconds: float, into: dict) -> None:
    stop = asyncio.Event()
    await asyncio.gather(run_mix(http, mix, clients, stop, into), after(seconds, stop))


async def waiting_for_lock(database: str) -> None:
    async with await connect(database) as watcher:
        while True:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (database,)
            )
            if (await cursor.fetchone())[0]:
                return
            await asyncio.sleep(0.01)


async def beside_slow_request(
    url: str, http: httpx.AsyncClient, mix, clients: int, seconds: float, into: dict, database: str, locked: str
) -> float:
    """The mix while one update waits `seconds` for the row lock this holds; returns how long the update took."""
    stop = asyncio.Event()
    async with await connect(database, autocommit=False) as holder, httpx.AsyncClient(base_url=url, timeout=120) as own:
        await holder.execute("SELECT 1 FROM openai_conversations WHERE public_id = %s FOR UPDATE", (locked,))
        locked_at = time.perf_counter()
        update = asyncio.create_task(own.post(f"/v1/conversations/{locked}", json={"metadata": {"n": str(locked_at)}}))
        await asyncio.wait_for(waiting_for_lock(database), timeout=30)
        mixing = asyncio.create_task(run_mix(http, mix, clients, stop, into))
        await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - locked_at)))
        stop.set()
        await holder.rollback()  # releases the lock: the update (and whatever waited behind it) goes on
        await mixing
        response = await update
        if response.status_code != 200:
            raise RuntimeError(f"the slow update: {response.status_code} {response.text[:200]}")
        return time.perf_counter() - locked_at


def summary(label: str, latencies: dict[str, list[float]]) -> float:
    every = [ms for values in latencies.values() for ms in values]
    p99 = percentile(every, 0.99)
    print(f"{label:<28} {len(every):>6} requests  p50 {percentile(every, 0.5):8.2f} ms  p99 {p99:8.2f} ms")
    for name, values in latencies.items():
        print(
            f"  {name:<26} {len(values):>6} requests  p50 {percentile(values, 0.5):8.2f} ms  "
            f"p99 {percentile(values, 0.99):8.2f} ms  max {max(values):8.2f} ms"
        )
    return p99


async def measure(server: Server, args: argparse.Namespace) -> bool:
    limits = httpx.Limits(max_connections=args.clients)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:
        mix, locked = await setup(http)
        await alone(http, mix, args.clients, 1.0, defaultdict(list))  # warm-up, not counted
        quiet: dict[str, list[float]] = defaultdict(list)
        busy: dict[str, list[float]] = defaultdict(list)
        slow: list[float] = []
        for _ in range(args.rounds):
            await alone(http, mix, args.clients, args.seconds, quiet)
            slow.append(
                await beside_slow_request(
                    server.url, http, mix, args.clients, args.seconds, busy, server.database, locked
                )
            )
    print(
        f"\nmix: {', '.join(name for name, _ in mix)}; {args.clients} clients; {args.rounds} x {args.seconds:g} s "
        "per run; 1 worker, conversations on PostgreSQL"
    )
    before = summary("alone", quiet)
    during = summary(f"with one {args.seconds:g} s request", busy)
    print(f"the slow request (update waiting for a row lock): {', '.join(f'{s:.2f} s' for s in slow)}")
    increase = during - before
    passed = increase <= args.target_ms
    print(f"p99 increase: {increase:.2f} ms (target <= {args.target_ms:g} ms): {'PASS' if passed else 'FAIL'}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the slow request takes (and each run)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients sending the mix")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the two runs this many times")
    parser.add_argument("--target-ms", type=float, default=50.0, help="the largest acceptable p99 increase")
    args = parser.parse_args()
    with Server(workers=1, postgres=True) as server:
        passed = asyncio.run(measure(server, args))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
