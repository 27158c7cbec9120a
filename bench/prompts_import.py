"""How long `stackadmin prompts import` takes for a large archive, and its re-import and export.

    python bench/prompts_import.py [--prompts 10000] [--versions 5] [--backends sqlite,postgres]

Writes an archive of N prompts with V text versions each (a default and a label on each prompt), then, per
backend, into a fresh store: `import` (everything created), `import` again (everything skipped: the idempotence
check reads every prompt), and `export` to a file. Each step is the installed command, run as a user runs it, so
the times include start-up (Django, config, backend checks); each step's peak resident memory is the command's
own (wait4's ru_maxrss), so running with --prompts 1000 and 10000 shows whether it grows with the store.
PostgreSQL is the local server of the tests (127.0.0.1:5432, user postgres, db test), in a table of its own that
is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STACKADMIN = Path(sys.executable).with_name("stackadmin")


def documents(prompts: int, versions: int):
    now = time.time()
    for i in range(prompts):
        yield {
            "prompt_id": "pmpt_" + secrets.token_hex(24),
            "default": versions,
            "labels": {"staging": 1},
            "owner_principal": "bench",
            "access_attributes": None,
            "versions": [
                {
                    "version": n,
                    "prompt": f"Prompt {i} version {n}: summarise {{{{ topic }}}} for {{{{ audience }}}}.",
                    "messages": None,
                    "variables": ["topic", "audience"],
                    "settings": {"model": "gpt-4o-mini", "temperature": 0.2},
                    "created_at": now + n,
                    "created_by": "bench",
                    "message": f"version {n}",
                    "deleted": False,
                }
                for n in range(1, versions + 1)
            ],
        }


def config_for(kind: str, home: Path, table: str) -> Path:
    if kind == "postgres":
        backend = f"{{type: kv_postgres, host: 127.0.0.1, port: 5432, db: test, user: postgres, table_name: {table}}}"
    else:
        backend = '{type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kv.db"}'
    path = home / "run.yaml"
    path.write_text(
        f"""storage:
  backends:
    kv_default: {backend}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql.db"}}
  stores:
    prompts: {{backend: kv_default, namespace: bench_import}}
    metadata: {{backend: kv_default, namespace: bench_import_registry}}
"""
    )
    return path


def timed(label: str, args: list[str], home: Path) -> float:
    env = {**os.environ, "STACKADMIN_HOME": str(home)}
    env.pop("STACKADMIN_CONFIG", None)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([str(STACKADMIN), "prompts", *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().strip()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{label} failed: {stderr}")
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"  {label:<22} {elapsed:8.2f} s  peak {peak:6.0f} MiB   {stderr.splitlines()[-1]}", flush=True)
    return elapsed


def drop_table(table: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.json"
        body = {"format": "stackadmin.prompts", "prompts": list(documents(args.prompts, args.versions)), "version": 1}
        archive.write_text(json.dumps(body), encoding="utf-8")
        size = archive.stat().st_size / 1e6
        print(f"archive: {args.prompts} prompts x {args.versions} versions, {size:.1f} MB")
        for kind in args.backends.split(","):
            home = Path(tmp) / kind
            home.mkdir()
            table = f"kv_bench_import_{secrets.token_hex(4)}"
            config = str(config_for(kind, home, table))
            print(f"{kind}:")
            try:
                timed("import (create all)", ["import", str(archive), "--config", config], home)
                timed("import again (skip)", ["import", str(archive), "--config", config], home)
                timed("export", ["export", "--output", str(home / "out.json"), "--config", config], home)
            finally:
                if kind == "postgres":
                    drop_table(table)


if __name__ == "__main__":
    main()
