"""Start `stackadmin run` (as the README runs it) on a free loopback port and run the shared load script at it.

    python bench/loadtest_server.py [--workers N] [--config FILE] [--loadtest PATH] -- [loadtest.py options]

Everything after `--` goes to loadtest.py (e.g. `--scenarios prompt_get,prompt_list --requests 2000`). The server
gets a fresh STACKADMIN_HOME unless --home is given, and is stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOADTEST = ROOT.parent / "shared" / "bench" / "loadtest.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("server did not become ready")


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """This script's arguments, and those after `--`, which go to loadtest.py."""
    if "--" not in argv:
        return argv, []
    split = argv.index("--")
    return argv[:split], argv[split + 1 :]


def main() -> None:
    argv, extra = split_passthrough(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--config", help="run config YAML for the server")
    parser.add_argument("--home", help="STACKADMIN_HOME for the server (default: a fresh temp dir)")
    parser.add_argument("--loadtest", default=str(DEFAULT_LOADTEST), help="path of the shared loadtest.py")
    args = parser.parse_args(argv)

    home = args.home or tempfile.mkdtemp(prefix="stackadmin-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "STACKADMIN_HOME": home}
    command = ["stackadmin", "run", "--port", str(port), "--workers", str(args.workers)]
    if args.config:
        command += ["--config", args.config]
    print(f"bench: {' '.join(command)}  (STACKADMIN_HOME={home})", flush=True)
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, server)
        result = subprocess.run([sys.executable, args.loadtest, url, "--server-pid", str(server.pid), *extra])
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
