"""What each departure of the lean `/v1` handler (stackadmin/handler.py) is worth, measured side by side.

    python bench/api_handler.py [--variants django,api-middleware,stackadmin] [-- loadtest.py options]

Serves one fresh home (SQLite, `stackadmin migrate`d once) several ways, one after another, with one uvicorn
worker, and runs the shared load script at each (default: `prompt_get,conv_items_add`, 2,000 requests, 16 clients):

- `django`: Django's own `ASGIHandler` with the full `MIDDLEWARE` stack: `/v1` without any departure;
- `api-middleware`: Django's `ASGIHandler` with `/v1`'s own middleware list (departure 1 alone);
- `new-thread`: stackadmin's handler, but with Django's new thread per request (departure 2 undone);
- `one-thread`: stackadmin's handler, but every request's thread-sensitive work on asgiref's one thread per process
  (departure 2 as it was until one slow request stopped holding up the others; on SQLite, as here, nothing else
  changed);
- `stackadmin`: the project's ASGI application as `stackadmin run` serves it (every departure; its pool of database
  threads has one thread on SQLite unless `STACKADMIN_API_THREADS` says otherwise).

Everything after `--` goes to loadtest.py. The script also serves as the server itself (`--serve VARIANT`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOADTEST = ROOT.parent / "shared" / "bench" / "loadtest.py"
VARIANTS = ("django", "api-middleware", "new-thread", "one-thread", "stackadmin")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest_server import free_port, split_passthrough, wait_ready  # noqa: E402  (the sibling script)


def serve(variant: str, port: int) -> None:
    """Run the ASGI application of `variant` with uvicorn (this process is the server)."""
    sys.path.insert(0, str(ROOT))
    import uvicorn

    import stackadmin.asgi as project

    if variant == "stackadmin":
        app = project.application
    elif variant in ("new-thread", "one-thread"):
        from channels.routing import ProtocolTypeRouter

        app = ProtocolTypeRouter({"lifespan": project.lifespan_app, "http": thread_variant(variant)})
    else:
        from django.core.handlers.asgi import ASGIHandler

        from channels.routing import ProtocolTypeRouter

        from stackadmin.handler import APIMiddlewareMixin

        class APIMiddlewareOnly(APIMiddlewareMixin, ASGIHandler):
            """Django's own handler with `/v1`'s middleware list, and nothing else of stackadmin's handler."""

        handler = ASGIHandler() if variant == "django" else APIMiddlewareOnly()
        app = ProtocolTypeRouter({"lifespan": project.lifespan_app, "http": handler})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def thread_variant(variant: str):
    """stackadmin's handler with another answer to "which thread runs a request's thread-sensitive work"."""
    from asgiref.sync import ThreadSensitiveContext

    from stackadmin.handler import APIHandler

    class NewThread(APIHandler):
        async def __call__(self, scope, receive, send):
            async with ThreadSensitiveContext():  # as Django's ASGIHandler.__call__
                await self.handle(scope, receive, send)

    class OneThread(APIHandler):
        async def __call__(self, scope, receive, send):
            await self.handle(scope, receive, send)

    return NewThread() if variant == "new-thread" else OneThread()


def measure(variant: str, home: str, loadtest: str, extra: list[str]) -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "STACKADMIN_HOME": home}
    env.pop("STACKADMIN_CONFIG", None)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", variant, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(url, server)
        print(f"\n=== {variant}", flush=True)
        return subprocess.run([sys.executable, loadtest, url, "--server-pid", str(server.pid), *extra]).returncode
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> None:
    argv, extra = split_passthrough(sys.argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--loadtest", default=str(DEFAULT_LOADTEST), help="path of the shared loadtest.py")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    extra = extra or ["--scenarios", "prompt_get,conv_items_add", "--requests", "2000"]
    home = tempfile.mkdtemp(prefix="stackadmin-bench-")
    env = {**os.environ, "STACKADMIN_HOME": home}
    env.pop("STACKADMIN_CONFIG", None)
    subprocess.run([sys.executable, "-m", "stackadmin.cli", "migrate"], cwd=ROOT, env=env, check=True)
    failed = [v for v in args.variants.split(",") if measure(v, home, args.loadtest, extra) != 0]
    sys.exit(f"load test failed for {', '.join(failed)}" if failed else 0)


if __name__ == "__main__":
    main()
