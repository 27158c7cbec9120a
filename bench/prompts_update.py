"""Prompt update throughput: N clients, each updating its own prompt in a loop (no conflicts), against a server.

    python bench/prompts_update.py BASE_URL [--requests 2000] [--concurrency 16]

The shared loadtest.py has no update scenario; this prints the same figures (req/s, p50, p99) for PUT
/v1/prompts/{id}. Use bench/loadtest_server.py's way of starting a server, or point it at a running one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx


async def main_async(args) -> None:
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(
        base_url=args.base_url.rstrip("/") + "/v1", limits=limits, timeout=60, trust_env=False
    ) as client:
        ids = []
        for i in range(args.concurrency):
            r = await client.post("/prompts", json={"prompt": f"bench {{{{ x }}}} {i}", "variables": ["x"]})
            r.raise_for_status()
            ids.append(r.json()["prompt_id"])
        per_client = args.requests // args.concurrency
        latencies: list[float] = []
        errors = 0

        async def worker(pid: str) -> None:
            nonlocal errors
            version = 1
            for n in range(per_client):
                t0 = time.perf_counter()
                r = await client.put(
                    f"/prompts/{pid}", json={"prompt": f"v{n} {{{{ x }}}}", "variables": ["x"], "version": version}
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code == 200:
                    version = r.json()["version"]
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(pid) for pid in ids))
        wall = time.perf_counter() - t0
    s = sorted(latencies)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    print(
        f"prompt_update: {len(s) / wall:.1f} req/s  p50 {statistics.median(s):.2f} ms  p99 {p99:.2f} ms  "
        f"errors {errors}/{len(s)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base_url")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
