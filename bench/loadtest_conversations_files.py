"""Load-test the Conversations and Files routes on a freshly started `stackadmin run`.

    python bench/loadtest_conversations_files.py [--workers N] [--postgres] [--config FILE] [-- loadtest options]

Starts the server from this checkout (`python -m stackadmin.cli run`, what the `stackadmin` command runs) on a
free loopback port with a fresh STACKADMIN_HOME, runs the shared load script with the scenarios
`conv_items_add,conv_items_list,file_upload` (2,000 requests, 16 concurrent clients, unless overridden after
`--`), passes it the server's PID so it reports server RSS, and stops the server. `--postgres` puts the
conversations and files stores in a throwaway PostgreSQL database (127.0.0.1:5432, user postgres), dropped after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOADTEST = ROOT.parent / "shared" / "bench" / "loadtest.py"
SCENARIOS = "conv_items_add,conv_items_list,file_upload"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "db": "test"}

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest_server import free_port, split_passthrough, wait_ready  # noqa: E402  (the sibling script)

sys.path.insert(0, str(ROOT))
from tests.support.live_server import stop_process  # noqa: E402


class Server:
    """`stackadmin run` on a free port with its own home; optionally on a throwaway PostgreSQL database."""

    def __init__(self, *, workers: int = 1, config: str | None = None, postgres: bool = False) -> None:
        self.home = tempfile.mkdtemp(prefix="stackadmin-bench-")
        self.database = None
        if postgres:
            import psycopg

            self.database = f"sa_bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(dbname=PG["db"], **_pg_args(), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.database}"')
            config = str(Path(self.home) / "run.yaml")
            Path(config).write_text(
                "storage:\n  backends:\n"
                '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
                '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
                f"    pg: {{type: sql_postgres, host: {PG['host']}, port: {PG['port']}, user: {PG['user']}, "
                f"db: {self.database}}}\n"
                "  stores:\n"
                "    conversations: {backend: pg, table_name: openai_conversations}\n"
                "    files: {backend: pg, table_name: openai_files}\n"
            )
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "STACKADMIN_HOME": self.home}
        env.pop("STACKADMIN_CONFIG", None)
        command = [sys.executable, "-m", "stackadmin.cli", "run", "--port", str(self.port), "--workers", str(workers)]
        if config:
            command += ["--config", config]
        print(f"bench: {' '.join(command[1:])}  (STACKADMIN_HOME={self.home})", flush=True)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_ready(self.url, self.process)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_process(self.process)
        if self.database:
            import psycopg

            with psycopg.connect(dbname=PG["db"], **_pg_args(), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()",
                    (self.database,),
                )
                admin.execute(f'DROP DATABASE IF EXISTS "{self.database}"')

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _pg_args() -> dict:
    return {"host": PG["host"], "port": PG["port"], "user": PG["user"]}


def main() -> None:
    argv, extra = split_passthrough(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--config", help="run config YAML for the server")
    parser.add_argument("--postgres", action="store_true", help="conversations and files stores on PostgreSQL")
    parser.add_argument("--loadtest", default=str(DEFAULT_LOADTEST), help="path of the shared loadtest.py")
    args = parser.parse_args(argv)
    if "--scenarios" not in extra:
        extra = ["--scenarios", SCENARIOS, *extra]
    with Server(workers=args.workers, config=args.config, postgres=args.postgres) as server:
        result = subprocess.run([sys.executable, args.loadtest, server.url, "--server-pid", str(server.pid), *extra])
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
