"""The dashboard's Import page and Export button on a large archive: how long each takes, and whether the server's
memory stays flat while the export streams.

    python bench/prompts_dashboard_transfer.py [--prompts 2000] [--versions 5]

Starts `stackadmin run` from this checkout on the default (SQLite) config, signs in as the admin, writes an archive
of N prompts with V text versions each (bench/prompts_import.py's), and posts it to /dashboard/import/: "Preview"
(a dry run: every prompt checked and compared with the store), "Import", and "Preview" again (everything skipped).
Then downloads /dashboard/export/ while sampling the server's RSS (the process and its children, from /proc) every
10 ms, and checks the download holds every prompt. Prints each time, the archive's size, and the RSS baseline and
peak of the export.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from prompts_import import documents  # noqa: E402

from tests.support.accounts import signed_in  # noqa: E402
from tests.support.live_server import LiveServer  # noqa: E402
from tests.support.procstat import rss_bytes  # noqa: E402

MiB = 1024 * 1024


class Sampler:
    """The peak RSS of a process tree while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def post(client, path: Path, action: str) -> tuple[float, str]:
    started = time.perf_counter()
    with path.open("rb") as archive:
        response = client.post(
            "/dashboard/import/",
            files={"archive": (path.name, archive, "application/json")},
            data={"on_conflict": "new-version", "action": action},
            headers={"HX-Request": "true", "HX-Target": "import-result"},
        )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.text


def summary(body: str) -> str:
    found = body.split('<p class="muted import-summary">', 1)[1].split("</p>", 1)[0]
    return " ".join(found.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="stackadmin-bench-"))
    path = home / "archive.json"
    path.write_text(
        json.dumps(
            {"format": "stackadmin.prompts", "prompts": list(documents(args.prompts, args.versions)), "version": 1}
        )
    )
    print(f"archive: {args.prompts} prompts x {args.versions} versions, {path.stat().st_size / MiB:.1f} MiB")
    server = LiveServer(home)
    try:
        client = signed_in(server, "admin", server.admin_password)
        client.timeout = 3600
        for action in ("preview", "import", "preview"):
            elapsed, body = post(client, path, action)
            print(f"{action:8} {elapsed:7.1f} s  ({args.prompts / elapsed:.0f} prompts/s)  {summary(body)}")
        with Sampler(server.process.pid) as sampler:
            started = time.perf_counter()
            size, chunks = 0, []
            with client.stream("GET", "/dashboard/export/") as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    chunks.append(chunk)
            elapsed = time.perf_counter() - started
        exported = json.loads(b"".join(chunks))
        assert len(exported["prompts"]) == args.prompts, len(exported["prompts"])
        print(
            f"export   {elapsed:7.1f} s  {size / MiB:.1f} MiB  server RSS {sampler.baseline / MiB:.0f} MiB -> peak "
            f"{sampler.peak / MiB:.0f} MiB (+{(sampler.peak - sampler.baseline) / MiB:.0f} MiB)"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
