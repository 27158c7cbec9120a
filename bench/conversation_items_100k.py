"""Is a page of conversation items as fast with 100,000 items as with 20?

    python bench/conversation_items_100k.py [--workers N] [--postgres] [--items 100000] [--requests 300]

Starts `stackadmin run` from this checkout (see loadtest_conversations_files.py), fills one conversation with
`--items` items through the API (20 per call, 8 calls in flight), then times GET .../items pages, 16 requests in
flight: the newest page, a page after a cursor in the middle, the oldest page (order=asc), against the same
pages of a 20-item conversation. Prints requests/s and p50/p99 per case.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtest_conversations_files import Server


def message(n: int) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"item {n} " * 8}]}


async def fill(http: httpx.AsyncClient, conversation_id: str, total: int) -> list[str]:
    ids: list[str | None] = [None] * total
    batches = iter(range(0, total, 20))

    async def worker() -> None:
        for start in batches:
            items = [message(n) for n in range(start, min(start + 20, total))]
            response = await http.post(f"/v1/conversations/{conversation_id}/items", json={"items": items})
            response.raise_for_status()
            for offset, item in enumerate(response.json()["data"]):
                ids[start + offset] = item["id"]

    await asyncio.gather(*(worker() for _ in range(8)))
    return ids  # type: ignore[return-value]


async def timed(http: httpx.AsyncClient, path: str, params: dict, requests: int) -> tuple[float, float, float]:
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            started = time.perf_counter()
            response = await http.get(path, params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and len(response.json()["data"]) == 20, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(16)))
    wall = time.perf_counter() - started
    latencies.sort()
    return requests / wall, statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


async def run(url: str, total: int, requests: int) -> None:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        small = (await http.post("/v1/conversations", json={"items": [message(n) for n in range(20)]})).json()["id"]
        big = (await http.post("/v1/conversations", json={})).json()["id"]
        started = time.perf_counter()
        big_ids = await fill(http, big, total)
        print(f"filled {total} items in {time.perf_counter() - started:.1f} s")
        middle = big_ids[total // 2]
        cases = [
            ("20 items: newest page", small, {}),
            (f"{total} items: newest page", big, {}),
            (f"{total} items: page after item {total // 2}", big, {"after": middle}),
            (f"{total} items: oldest page (asc)", big, {"order": "asc"}),
            ("20 items: oldest page (asc)", small, {"order": "asc"}),
        ]
        for name, conversation_id, params in cases:
            path = f"/v1/conversations/{conversation_id}/items"
            await timed(http, path, params, 50)  # warm-up
            rps, p50, p99 = await timed(http, path, params, requests)
            print(f"{name:40s} {rps:7.1f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with Server(workers=args.workers, postgres=args.postgres) as server:
        asyncio.run(run(server.url, args.items, args.requests))


if __name__ == "__main__":
    main()
