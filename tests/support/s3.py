"""An S3-compatible server on loopback standing in for the cloud: moto's standalone server (`moto[server]`).

moto is the maintained AWS emulator most Python projects test boto3 code against; its server mode speaks the real
S3 REST protocol over HTTP (multipart uploads, list pagination, HEAD bucket), so stackadmin's processes reach it
through boto3 exactly as they would reach AWS, MinIO or R2. It runs as its own process (its own GIL and memory,
like a real remote service), and each test takes a bucket of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.live_server import free_port, stop_process
from tests.support.names import unique
from tests.support.waiting import wait_until

ACCESS_KEY = "stackadmin-test"
SECRET_KEY = "stackadmin-test-secret"


class S3Emulator:
    def __init__(self, log_dir: Path, *, check_credentials: bool = False) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_dir / "moto.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # moto's switch for authenticating every request against its own IAM (no user exists: any key fails)
            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"} if check_credentials else None,
        )
        wait_until(self._ready, timeout=30, interval=0.1)
        self.client = self.new_client()

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"moto server exited with {self.process.returncode}")
        try:
            httpx.get(self.endpoint_url + "/moto-api/", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    def new_client(self):
        import boto3

        return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY).client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1"
        )

    def new_bucket(self) -> str:
        name = unique("stackadmin-").lower().replace("_", "-")
        self.client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", ()))

    def multipart_uploads(self, bucket: str) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", ())]

    def storage(self, bucket: str, prefix: str = "files") -> dict:
        """The `files.storage` section for a bucket on this server."""
        return {
            "type": "s3",
            "bucket": bucket,
            "prefix": prefix,
            "endpoint_url": self.endpoint_url,
            "region": "us-east-1",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
        }

    def storage_yaml(self, bucket: str, prefix: str = "files") -> str:
        fields = "".join(f"    {key}: {value}\n" for key, value in self.storage(bucket, prefix).items())
        return f"files:\n  storage:\n{fields}"

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
