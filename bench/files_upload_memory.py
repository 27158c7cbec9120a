"""Server memory during a large upload and download: does it stay flat?

    python bench/files_upload_memory.py [--mib 200] [--workers 1] [--postgres] [--s3]

Starts `stackadmin run` from this checkout (see loadtest_conversations_files.py), writes a random file of
`--mib` MiB, uploads it with the OpenAI SDK, streams it back, and samples the server's RSS (the process and its
children, from /proc) every 10 ms throughout. Prints the baseline, the peak and the growth for each phase, and
checks the bytes came back intact. With `--s3` the bytes go to a bucket on moto's S3 server started on loopback
(tests/support/s3.py), to compare with the local disk.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadtest_conversations_files import Server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.procstat import rss_bytes as rss

MiB = 1024 * 1024


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, what: str, seconds: float, size: int) -> None:
        print(
            f"{what:9s} {size / MiB:.0f} MiB in {seconds:.2f} s: server RSS {self.baseline / MiB:.1f} MiB before, "
            f"peak {self.peak / MiB:.1f} MiB (+{(self.peak - self.baseline) / MiB:.1f} MiB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--s3", action="store_true", help="keep the bytes in a bucket on a local moto S3 server")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory())
        config = None
        if args.s3:
            from tests.support.s3 import S3Emulator

            s3 = S3Emulator(Path(scratch))
            stack.callback(s3.stop)
            config = str(Path(scratch) / "run.yaml")
            Path(config).write_text(s3.storage_yaml(s3.new_bucket()))
        server = stack.enter_context(Server(workers=args.workers, postgres=args.postgres, config=config))
        run(server, Path(scratch), args.mib)


def run(server: Server, scratch: Path, mib: int) -> None:
    size = mib * MiB
    source = scratch / "large.bin"
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with source.open("wb") as fh:
        for _ in range(mib):
            fh.write(block)
            digest.update(block)
    with openai.OpenAI(base_url=server.url + "/v1", api_key="bench", max_retries=0, timeout=600) as client:
        client.files.create(file=("warm-up.txt", b"warm"), purpose="batch")
        with Sampler(server.pid) as upload, source.open("rb") as fh:
            started = time.perf_counter()
            uploaded = client.files.create(file=("large.bin", fh), purpose="batch")
        upload.report("upload", time.perf_counter() - started, size)
        assert uploaded.bytes == size, uploaded
        received = hashlib.sha256()
        with Sampler(server.pid) as download:
            started = time.perf_counter()
            with client.files.with_streaming_response.content(uploaded.id) as response:
                for chunk in response.iter_bytes(MiB):
                    received.update(chunk)
        download.report("download", time.perf_counter() - started, size)
        print("content intact:", received.hexdigest() == digest.hexdigest())
        client.files.delete(uploaded.id)


if __name__ == "__main__":
    main()
