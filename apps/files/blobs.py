"""Where a file's bytes are kept once uploaded: the local storage directory, or an S3-compatible bucket.

`files.storage` in the run config picks one; `blob_store()` returns it. Both take bytes already staged on the local
disk (`apps.files.disk.StagedFile`: the multipart parser streams an upload there, never into memory) and differ in
when they place them:

- `LocalBlobs` renames the staged part into the storage directory inside the transaction that inserts the row
  (`places_in_transaction`), as stackadmin always did: one rename, a reader sees all of a file or none of it.
- `BucketBlobs` uploads it to the bucket *before* that transaction (an upload takes seconds; a SQLite write lock
  must not be held meanwhile), with boto3's managed transfer on django-storages' connection: a multipart upload
  past 8 MiB, at most four 8 MiB parts in flight, each read from the staged file as it is sent. If the insert
  then fails the object is deleted; if the process dies between the two, the object has no row, and
  `purge_expired_files` deletes such objects once they are older than its age limit (as it does staged parts a
  dead process left), together with the multipart uploads a dead process never completed.

Downloads stream in both: `open()` returns a handle read in 1 MiB chunks (`disk.read_chunks`); for the bucket it
is the body of a GET, so nothing is buffered beyond one chunk. Missing bytes are `FileNotFoundError` (a 404 for the
caller); an unreachable or refusing bucket is `BlobStoreUnavailable` (a 503).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator
from typing import BinaryIO

from apps.core.errors import ServiceUnavailableError
from apps.files import disk
from apps.files.config import LocalStorage, S3Storage, files_config

_STORED_NAME = re.compile(r"^[0-9a-f]{2}/file-[0-9a-f]{32}$")
MiB = 1024 * 1024


class BlobStoreUnavailable(ServiceUnavailableError, code="file_storage_unavailable"):
    """The bucket cannot be reached, does not exist or refuses our credentials."""


class LocalBlobs:
    """Bytes under `files.storage_dir` (see `apps.files.disk` for the layout and the staging directory)."""

    kind = "local"
    places_in_transaction = True

    def describe(self) -> str:
        return f"directory {disk.storage_root()}"

    def place(self, staged: disk.StagedFile, relative: str) -> None:
        staged.commit(relative)

    def open(self, relative: str) -> BinaryIO:
        return disk.resolve(relative).open("rb")

    def remove(self, relative: str) -> bool:
        return disk.remove(relative)

    def stored(self, *, older_than_seconds: float) -> Iterator[str]:
        """Stored names (`<2 hex>/<file id>`) last written more than `older_than_seconds` ago."""
        root = disk.storage_root()
        cutoff = time.time() - older_than_seconds
        if not root.is_dir():
            return
        for shard in root.iterdir():
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for entry in os.scandir(shard):
                name = f"{shard.name}/{entry.name}"
                if _STORED_NAME.fullmatch(name) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    yield name

    def abandon_incomplete(self, *, older_than_seconds: float) -> int:
        return 0  # a staged part is the only incomplete state, and `disk.sweep_incoming` removes those

    def check(self, *, timeout: float = 5) -> None:
        root = disk.storage_root()
        probe = root
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
            raise BlobStoreUnavailable(f"The storage directory {root} is not writable.")


def _bucket_error(exc: Exception, config: S3Storage) -> BlobStoreUnavailable:
    """One line saying why the bucket refused, in an operator's words."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    where = f"bucket '{config.bucket}'" + (f" at {config.endpoint_url}" if config.endpoint_url else "")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in ("404", "NoSuchBucket"):
            return BlobStoreUnavailable(f"{where}: the bucket does not exist")
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return BlobStoreUnavailable(f"{where}: access denied ({code}); check access_key_id and secret_access_key")
        return BlobStoreUnavailable(f"{where}: {code} {error.get('Message') or ''}".rstrip())
    if isinstance(exc, EndpointConnectionError):
        return BlobStoreUnavailable(f"{where}: cannot connect to the endpoint ({exc})")
    if isinstance(exc, NoCredentialsError):
        return BlobStoreUnavailable(
            f"{where}: no credentials (set access_key_id and secret_access_key, or boto3's environment or profile)"
        )
    return BlobStoreUnavailable(f"{where}: {type(exc).__name__}: {exc}")


def _missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class BucketBlobs:
    """Bytes as objects `<prefix><2 hex>/<file id>` in an S3-compatible bucket, through django-storages."""

    kind = "s3"
    places_in_transaction = False

    def __init__(self, config: S3Storage) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config
        from storages.backends.s3 import S3Storage as DjangoS3Storage

        self.config = config
        self.storage = DjangoS3Storage(
            bucket_name=config.bucket,
            location=config.key_prefix.rstrip("/"),
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            access_key=config.access_key_id,
            secret_key=config.secret_access_key,
            file_overwrite=True,  # names are fresh ids: no HEAD request looking for a free name
            default_acl=None,
            querystring_auth=False,
            client_config=Config(
                s3={"addressing_style": "path" if config.endpoint_url else "auto"},
                connect_timeout=5,
                read_timeout=60,
                retries={"mode": "standard", "max_attempts": 3},
            ),
            transfer_config=TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4),
        )

    def describe(self) -> str:
        endpoint = f" at {self.config.endpoint_url}" if self.config.endpoint_url else ""
        return f"bucket '{self.config.bucket}'{endpoint}, prefix '{self.config.key_prefix}'"

    @property
    def _client(self):
        return self.storage.connection.meta.client

    def key(self, relative: str) -> str:
        return self.config.key_prefix + relative

    def place(self, staged: disk.StagedFile, relative: str) -> None:
        """Upload the staged bytes (multipart past 8 MiB). The staged part stays; the caller discards it.

        boto3's `upload_file` reads each part from the file as it sends it; django-storages' `save()` goes through
        `upload_fileobj`, which reads up to ten 8 MiB parts into memory ahead (80 MiB for a large upload)."""
        try:
            self._client.upload_file(
                str(staged.path), self.config.bucket, self.key(relative), Config=self.storage.transfer_config
            )
        except Exception as exc:
            raise _bucket_error(exc, self.config) from exc

    def open(self, relative: str) -> BinaryIO:
        try:
            return self._client.get_object(Bucket=self.config.bucket, Key=self.key(relative))["Body"]
        except Exception as exc:
            if _missing(exc):
                raise FileNotFoundError(relative) from None
            raise _bucket_error(exc, self.config) from exc

    def remove(self, relative: str) -> bool:
        """Delete the object. S3 does not say whether there was one (a delete is idempotent): True."""
        try:
            self._client.delete_object(Bucket=self.config.bucket, Key=self.key(relative))
        except Exception as exc:
            raise _bucket_error(exc, self.config) from exc
        return True

    def stored(self, *, older_than_seconds: float) -> Iterator[str]:
        cutoff = time.time() - older_than_seconds
        prefix = self.config.key_prefix
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", ()):
                name = obj["Key"][len(prefix) :]
                if _STORED_NAME.fullmatch(name) and obj["LastModified"].timestamp() < cutoff:
                    yield name

    def abandon_incomplete(self, *, older_than_seconds: float) -> int:
        """Abort the multipart uploads under the prefix begun more than `older_than_seconds` ago (a process that
        died mid-upload leaves one; the bucket keeps, and bills, its parts until it is aborted)."""
        cutoff = time.time() - older_than_seconds
        bucket = self.config.bucket
        aborted = 0
        pages = self._client.get_paginator("list_multipart_uploads").paginate(
            Bucket=bucket, Prefix=self.config.key_prefix
        )
        for page in pages:
            for upload in page.get("Uploads", ()):
                if upload["Initiated"].timestamp() < cutoff:
                    self._client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    aborted += 1
        return aborted

    def check(self, *, timeout: float = 5) -> None:
        """HEAD the bucket once, without retries, giving up after `timeout` seconds."""
        check_bucket(self.config, timeout=timeout)


@functools.lru_cache(maxsize=8)
def _probe_client(config: S3Storage, timeout: float):
    """A client of its own for HEAD requests (no retries, short timeouts), built once per config: building one
    costs tens of milliseconds, and boto3 clients are thread-safe. No Django needed (`stackadmin run` checks the
    bucket before setting Django up)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id=config.access_key_id, aws_secret_access_key=config.secret_access_key
    ).client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": 1},
            s3={"addressing_style": "path" if config.endpoint_url else "auto"},
        ),
    )


def check_bucket(config: S3Storage, *, timeout: float = 5) -> None:
    """The bucket exists and takes our credentials; else `BlobStoreUnavailable` saying which and why."""
    try:
        _probe_client(config, timeout).head_bucket(Bucket=config.bucket)
    except Exception as exc:
        raise _bucket_error(exc, config) from exc


@functools.lru_cache(maxsize=4)
def _bucket(config: S3Storage) -> BucketBlobs:
    # Keyed on the (frozen) storage config itself: a test that switches buckets gets another store.
    return BucketBlobs(config)


_LOCAL = LocalBlobs()


def blob_store() -> LocalBlobs | BucketBlobs:
    """The store `files.storage` in the run config names, for this process (or the running test)."""
    storage = files_config().storage
    if isinstance(storage, LocalStorage):
        return _LOCAL
    return _bucket(storage)
