"""File writes: a row in the `files` store and bytes in the blob store (`apps.files.blobs`), kept in step.

Create inserts the row and places the staged bytes (renamed into the storage directory inside the transaction, or
uploaded to the bucket just before it); if anything fails, including the commit, the bytes are removed and the
transaction rolls back, so neither is left alone.
Delete removes the row, then the bytes once the deletion is committed (a failed commit keeps both).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router, transaction
from django.utils import timezone

from apps.core.access import require_create
from apps.core.errors import BadRequestError, PermissionDeniedError
from apps.core.principal import ANONYMOUS, Principal
from apps.files import disk
from apps.files.blobs import BlobStoreUnavailable, BucketBlobs, LocalBlobs, blob_store
from apps.files.models import File
from apps.files.selectors import file_not_found, files_expired, files_visible, unexpired, validate_file_id

logger = logging.getLogger("apps.files")


def _db() -> str:
    return router.db_for_write(File)


def new_file_id() -> str:
    return "file-" + secrets.token_hex(16)


def file_create(
    *,
    staged: disk.StagedFile,
    filename: str,
    purpose: str,
    expires_after_seconds: int | None = None,
    principal: Principal = ANONYMOUS,
) -> File:
    """Store staged bytes as a new file. Takes ownership of `staged`: on any failure its bytes are removed.

    `filename`, `purpose` and the expiry are as `apps.files.schemas.FileUpload` let them through. Runs its own
    transaction and refuses to run inside another one: the rename of the bytes into place must be followed by this
    commit, not by an outer block that might still roll the row back."""
    try:
        require_create(principal, "file")
        staged.close()
        if staged.size == 0:
            raise BadRequestError("Invalid value for 'file': the file is empty.", param="file", code="empty_file")
        file_id = new_file_id()
        file = File(
            public_id=file_id,
            filename=filename,
            purpose=purpose,
            bytes=staged.size,
            created_at=(now := timezone.now()),
            expires_at=now + timedelta(seconds=expires_after_seconds) if expires_after_seconds is not None else None,
            path=disk.relative_path(file_id),
        ).stamp(principal)
        _store_new(file, staged, blob_store())
        return file
    finally:
        staged.discard()


def _store_new(file: File, staged: disk.StagedFile, store: LocalBlobs | BucketBlobs) -> None:
    """Place the bytes and insert the row, so that neither is left without the other.

    On the local disk the bytes are renamed into place inside the (durable) transaction that inserts the row: the
    rename must be followed by this commit, not by an outer block's possible rollback. In a bucket they are
    uploaded first, since an upload takes seconds and no write lock may be held meanwhile; a failed insert then
    deletes the object (and a process that dies in between leaves one that `purge_expired_files` removes)."""
    placed = False
    try:
        if not store.places_in_transaction:
            store.place(staged, file.path)
            placed = True
        with transaction.atomic(using=_db(), durable=True):
            file.save(force_insert=True)
            if store.places_in_transaction:
                store.place(staged, file.path)
                placed = True
    except BaseException:
        if placed:  # the bytes are in place but the row is not: the bytes must not outlive it
            _remove_bytes(file.public_id, file.path)
        raise


def _remove_bytes(file_id: str, relative: str) -> None:
    try:
        if not blob_store().remove(relative):
            logger.warning("file %s: bytes were already missing from the storage directory", file_id)
    except (OSError, ValueError, BlobStoreUnavailable):
        # The row is gone; leftover bytes cost disk space, not correctness. Say so loudly.
        logger.exception("file %s: could not remove %s", file_id, relative)


def file_delete(
    *, file_id: str, include_expired: bool = False, principal: Principal = ANONYMOUS, now: datetime | None = None
) -> None:
    """Delete a file's row and bytes. An expired file is already gone for API callers (404); operators
    (`include_expired=True`) may delete it before the purge does."""
    validate_file_id(file_id)
    db = _db()
    files = files_visible(principal=principal, action="delete")
    with transaction.atomic(using=db):
        file = (
            (files if include_expired else unexpired(files, now=now))
            .select_for_update()
            .filter(public_id=file_id)
            .only("pk", "public_id", "path")
            .first()
        )
        if file is None:
            readable = files_visible(principal=principal).filter(public_id=file_id).exists()
            if readable and (
                include_expired
                or unexpired(files_visible(principal=principal), now=now).filter(public_id=file_id).exists()
            ):
                raise PermissionDeniedError(f"You may not delete file '{file_id}'.")
            raise file_not_found(file_id)
        File.objects.filter(pk=file.pk).delete()
        transaction.on_commit(lambda: _remove_bytes(file.public_id, file.path), using=db)


@dataclass(frozen=True)
class PurgeResult:
    files: int
    bytes: int


def files_purge_expired(
    *,
    now: datetime | None = None,
    batch_size: int = 500,
    progress: Callable[[int, int, int], None] | None = None,
) -> PurgeResult:
    """Delete every file expired at `now`, in batches; `progress(done, total, bytes_freed)` after each batch."""
    now = now or timezone.now()
    db = _db()
    total = files_expired(now=now).count()
    done = freed = 0
    while True:
        batch = list(files_expired(now=now).order_by("pk").values_list("pk", "public_id", "path", "bytes")[:batch_size])
        if not batch:
            break
        with transaction.atomic(using=db):
            # Lock what is still there: a concurrent purge or delete may have taken some of the batch already,
            # and only the rows this transaction deletes may have their bytes removed by it.
            deleted_pks = set(
                files_expired(now=now)
                .select_for_update()
                .filter(pk__in=[row[0] for row in batch])
                .values_list("pk", flat=True)
            )
            File.objects.filter(pk__in=deleted_pks).delete()
        for pk, public_id, path, size in batch:
            if pk in deleted_pks:
                _remove_bytes(public_id, path)
                done += 1
                freed += size
        if progress is not None:
            progress(done, max(total, done), freed)
        if len(batch) < batch_size:
            break
    return PurgeResult(files=done, bytes=freed)


def files_purge_orphans(*, older_than_seconds: float, batch_size: int = 1000) -> list[str]:
    """Delete stored bytes that no row refers to, once older than `older_than_seconds` (younger ones may belong
    to an upload whose row is being inserted right now); returns the stored names removed.

    They are what a process that died between placing an upload's bytes and committing its row leaves (in a
    bucket, where bytes are placed before the transaction; see `_store_new`). Multipart uploads to a bucket that a
    dead process never completed are aborted too."""
    store = blob_store()
    store.abandon_incomplete(older_than_seconds=older_than_seconds)
    removed: list[str] = []
    batch: list[str] = []
    for name in store.stored(older_than_seconds=older_than_seconds):
        batch.append(name)
        if len(batch) >= batch_size:
            removed += _remove_unreferenced(batch, store)
            batch = []
    return removed + _remove_unreferenced(batch, store)


def _remove_unreferenced(names: list[str], store: LocalBlobs | BucketBlobs) -> list[str]:
    if not names:
        return []
    referenced = set(File.objects.using(_db()).filter(path__in=names).values_list("path", flat=True))
    orphans = [name for name in names if name not in referenced]
    for name in orphans:
        store.remove(name)
    return orphans
