"""Files in an S3-compatible bucket (moto's server on loopback, tests/support/s3.py): what only the bucket has.

The Files API contract on a bucket is tests/files/test_api.py (every test there runs on both storages); here are
the start-up checks, the "no bytes without a row" guarantee when the row cannot be written, a worker killed between
its upload and its commit, the purge of objects no row refers to, and the config's one-line errors."""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.core.management import call_command
from django.db import transaction

import openai
import pytest
import yaml

from apps.core.config import ConfigError
from apps.files import disk, selectors, services
from apps.files.config import FilesConfig, parse_files
from tests.support.live_server import free_port
from tests.support.paths import ROOT
from tests.support.s3 import S3Emulator
from tests.support.waiting import wait_until


@pytest.fixture
def bucket(s3, tmp_path, settings):
    """A fresh bucket as this process's file storage (staging in a temporary directory)."""
    name = s3.new_bucket()
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG,
        files=parse_files({"storage_dir": str(tmp_path / "files"), "storage": s3.storage(name)}, home=str(tmp_path)),
    )
    return name


def create(data: bytes, **kwargs):
    return services.file_create(staged=disk.stage_stream(io.BytesIO(data)), filename="f.bin", purpose="batch", **kwargs)


# ------------------------------------------------------------------------------------------ in-process services
@pytest.mark.django_db(transaction=True)  # the bytes go once the deletion is committed
def test_create_read_delete_keep_the_object_in_step_with_the_row(s3, bucket, tmp_path):
    file = create(b"in the bucket")
    assert s3.keys(bucket) == [f"files/{file.path}"]
    with selectors.file_open(file) as handle:
        assert handle.read() == b"in the bucket"
    assert list((tmp_path / "files" / disk.INCOMING_DIR).glob("*")) == []  # nothing left staged
    services.file_delete(file_id=file.public_id)
    assert s3.keys(bucket) == []


@pytest.mark.django_db(transaction=True)
def test_no_object_outlives_a_row_that_could_not_be_written(s3, bucket):
    # Inside an outer transaction the service refuses to commit (its insert must be durable); the object it had
    # already uploaded must go.
    with pytest.raises(RuntimeError), transaction.atomic():
        create(b"never committed")
    assert s3.keys(bucket) == []


@pytest.mark.django_db
def test_purge_removes_unreferenced_objects_and_unfinished_multipart_uploads(s3, bucket):
    kept = create(b"has a row")
    orphan = "files/ab/file-ab" + "0" * 30
    s3.client.put_object(Bucket=bucket, Key=orphan, Body=b"a dead process's upload")
    s3.client.put_object(Bucket=bucket, Key="elsewhere/not-ours", Body=b"outside the prefix")
    s3.client.create_multipart_upload(Bucket=bucket, Key="files/cd/file-cd" + "0" * 30)
    out = io.StringIO()
    call_command("purge_expired_files", "--incoming-max-age", "3600", stdout=out)
    assert orphan in s3.keys(bucket)  # younger than the age limit: it may be an upload about to commit
    call_command("purge_expired_files", "--incoming-max-age", "0", stdout=out)
    assert s3.keys(bucket) == sorted([f"files/{kept.path}", "elsewhere/not-ours"])
    assert s3.multipart_uploads(bucket) == []
    assert f"removed abandoned upload {orphan.removeprefix('files/')}" in out.getvalue()


@pytest.mark.django_db
def test_a_large_upload_goes_in_parts(s3, bucket):
    data = os.urandom(20 * 1024 * 1024 + 5)
    file = services.file_create(
        staged=disk.stage_stream(io.BytesIO(data), max_bytes=len(data)), filename="big.bin", purpose="batch"
    )
    head = s3.client.head_object(Bucket=bucket, Key=f"files/{file.path}")
    assert head["ContentLength"] == len(data)
    assert "-" in head["ETag"]  # a multipart upload's ETag is '<md5 of the parts' md5s>-<number of parts>'
    with selectors.file_open(file) as handle:
        assert handle.read() == data


# ------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"type": "gcs"}, "files.storage.type: must be one of local, s3 (got 'gcs')"),
        ({"type": "s3"}, "files.storage.bucket: required field is missing"),
        ({"type": "s3", "bucket": "b" * 3, "colour": 1}, "files.storage.colour: unknown field"),
        (
            {"type": "s3", "bucket": "bbb", "access_key_id": "k"},
            "files.storage: access_key_id and secret_access_key go together",
        ),
        ({"type": "s3", "bucket": "Not_A_Bucket"}, "files.storage.bucket: String should match pattern"),
        ({"type": "s3", "bucket": "bbb", "endpoint_url": "localhost:9000"}, "files.storage.endpoint_url:"),
        ("s3", "files.storage: must be a mapping with a 'type' (local, s3)"),
    ],
)
def test_config_mistakes_are_one_line_naming_the_key(storage, message):
    with pytest.raises(ConfigError) as raised:
        parse_files({"storage": storage}, home="/tmp")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_prefix_is_normalised_to_one_trailing_slash():
    files = parse_files({"storage": {"type": "s3", "bucket": "bbb", "prefix": "/a//b/"}}, home="/tmp")
    assert files.storage.key_prefix == "a/b/"
    assert isinstance(parse_files({}, home="/tmp"), FilesConfig)
    assert parse_files({}, home="/tmp").storage.type == "local"


# ------------------------------------------------------------------------------------------ start-up
def migrate(tmp_path, storage: dict) -> subprocess.CompletedProcess:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"files": {"storage": storage}}))
    env = {**os.environ, "STACKADMIN_HOME": str(tmp_path / "home")}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # as a user runs it: the check comes before Django is set up
    return subprocess.run(
        [sys.executable, "-m", "stackadmin.cli", "migrate", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_existing_bucket_passes_the_start_up_check(s3, tmp_path):
    result = migrate(tmp_path, s3.storage(s3.new_bucket()))
    assert result.returncode == 0, result.stderr


def test_a_missing_bucket_stops_the_start_with_one_line(s3, tmp_path):
    result = migrate(tmp_path, s3.storage("no-such-bucket-here"))
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "files.storage (s3): bucket 'no-such-bucket-here'" in result.stderr
    assert "the bucket does not exist" in result.stderr
    assert not (tmp_path / "home").exists()  # nothing written before every backend answered


def test_refused_credentials_stop_the_start_with_one_line(tmp_path):
    strict = S3Emulator(tmp_path, check_credentials=True)
    try:
        result = migrate(tmp_path, strict.storage("any-bucket"))
    finally:
        strict.stop()
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "files.storage (s3): bucket 'any-bucket'" in result.stderr
    assert "access denied" in result.stderr and "check access_key_id and secret_access_key" in result.stderr
    assert not (tmp_path / "home").exists()


def test_an_unreachable_endpoint_stops_the_start_with_one_line(s3, tmp_path):
    storage = {**s3.storage("any-bucket"), "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    result = migrate(tmp_path, storage)
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0
    assert "cannot connect to the endpoint" in result.stderr


# ------------------------------------------------------------------------------------------ a killed worker
def test_a_worker_killed_between_upload_and_commit_leaves_an_object_the_purge_removes(s3, start_server):
    bucket = s3.new_bucket()
    server = start_server(s3.storage_yaml(bucket))
    server.bucket, server.s3 = bucket, s3
    db = sqlite3.connect(Path(server.home) / "sql_store.db", timeout=30, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # the upload reaches the bucket, then waits at its INSERT
    with ThreadPoolExecutor(1) as pool:

        def send():
            with openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=60) as sdk:
                return sdk.files.create(file=("upload.bin", b"x" * 1000), purpose="batch")

        future = pool.submit(send)
        (key,) = wait_until(lambda: s3.keys(bucket, "files/"), timeout=20, what="the uploaded object")
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        with pytest.raises(openai.APIConnectionError):
            future.result()
    db.execute("ROLLBACK")
    db.close()
    assert s3.keys(bucket, "files/") == [key]  # an object without a row
    output = server.manage("purge_expired_files", "--incoming-max-age", "0")
    assert f"removed abandoned upload {key.removeprefix('files/')}" in output
    assert s3.keys(bucket, "files/") == []
