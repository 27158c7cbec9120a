"""File writes: a row in the `files` store and bytes in the storage directory, kept in step.

Create inserts the row and renames the staged bytes into place inside one transaction; if anything fails,
including the commit, the bytes are removed and the transaction rolls back, so neither is left alone.
Delete removes the row, then the bytes once the deletion is committed (a failed commit keeps both).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from apps.core.access import require_create
from apps.core.errors import BadRequestError, PermissionDeniedError
from apps.core.principal import ANONYMOUS, Principal
from apps.files import disk
from apps.files.models import File, Purpose
from apps.files.selectors import file_not_found, files_expired, files_visible, unexpired, validate_file_id

logger = logging.getLogger("apps.files")

MAX_FILENAME_CHARS = 255
MIN_EXPIRY_SECONDS = 3600
MAX_EXPIRY_SECONDS = 2_592_000
PURPOSES = tuple(Purpose.values)


def _db() -> str:
    return router.db_for_write(File)


def new_file_id() -> str:
    return "file-" + secrets.token_hex(16)


def _missing(param: str) -> BadRequestError:
    return BadRequestError(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def validate_filename(filename: Any) -> str:
    """The name is kept as uploaded, so it must be a plain name: no directories, no control characters."""
    if not isinstance(filename, str) or not filename:
        raise BadRequestError("Invalid value for 'file': the upload has no filename.", param="file")
    if len(filename) > MAX_FILENAME_CHARS:
        raise BadRequestError(
            f"Invalid value for 'file': the filename is {len(filename)} characters; at most {MAX_FILENAME_CHARS}.",
            param="file",
            code="string_above_max_length",
        )
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise BadRequestError(
            f"Invalid value for 'file': the filename {filename!r} contains a path; send the file's name only.",
            param="file",
            code="invalid_filename",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise BadRequestError(
            f"Invalid value for 'file': the filename {filename!r} contains control characters.",
            param="file",
            code="invalid_filename",
        )
    return filename


def validate_purpose(purpose: Any) -> str:
    if purpose is None or purpose == "":
        raise _missing("purpose")
    if purpose not in PURPOSES:
        raise BadRequestError(
            f"Invalid value for 'purpose': {str(purpose)[:64]!r}; expected one of {', '.join(PURPOSES)}.",
            param="purpose",
            code="invalid_value",
        )
    return purpose


def validate_expires_after(expires_after: Mapping | None) -> int | None:
    """`{"anchor": "created_at", "seconds": 3600..2592000}` -> seconds (form values arrive as strings)."""
    if expires_after is None:
        return None
    if not isinstance(expires_after, Mapping):
        raise BadRequestError(
            "Invalid value for 'expires_after': expected an object with 'anchor' and 'seconds'.",
            param="expires_after",
        )
    anchor = expires_after.get("anchor")
    seconds = expires_after.get("seconds")
    if anchor is None:
        raise _missing("expires_after.anchor")
    if anchor != "created_at":
        raise BadRequestError(
            f"Invalid value for 'expires_after.anchor': {str(anchor)[:64]!r}; the only supported anchor is "
            "'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    if seconds is None:
        raise _missing("expires_after.seconds")
    if isinstance(seconds, str) and seconds.strip().isdecimal():
        seconds = int(seconds.strip())
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise BadRequestError(
            f"Invalid value for 'expires_after.seconds': {str(seconds)[:64]!r} is not a whole number of seconds.",
            param="expires_after.seconds",
            code="invalid_type",
        )
    if not MIN_EXPIRY_SECONDS <= seconds <= MAX_EXPIRY_SECONDS:
        raise BadRequestError(
            f"Invalid value for 'expires_after.seconds': {seconds}; expected {MIN_EXPIRY_SECONDS} (1 hour) to "
            f"{MAX_EXPIRY_SECONDS} (30 days).",
            param="expires_after.seconds",
            code="invalid_value",
        )
    return seconds


def file_create(
    *,
    staged: disk.StagedFile,
    filename: Any,
    purpose: Any,
    expires_after: Mapping | None = None,
    principal: Principal = ANONYMOUS,
) -> File:
    """Store staged bytes as a new file. Takes ownership of `staged`: on any failure its bytes are removed.

    Runs its own transaction and refuses to run inside another one: the rename of the bytes into place must be
    followed by this commit, not by an outer block that might still roll the row back."""
    try:
        clean_filename = validate_filename(filename)
        clean_purpose = validate_purpose(purpose)
        seconds = validate_expires_after(expires_after)
        require_create(principal, "file")
        staged.close()
        if staged.size == 0:
            raise BadRequestError("Invalid value for 'file': the file is empty.", param="file", code="empty_file")
        file_id = new_file_id()
        relative = disk.relative_path(file_id)
        now = timezone.now()
        moved = False
        try:
            # Durable: the rename must be followed by this commit, not by an outer block's possible rollback.
            with transaction.atomic(using=_db(), durable=True):
                file = File(
                    public_id=file_id,
                    filename=clean_filename,
                    purpose=clean_purpose,
                    bytes=staged.size,
                    created_at=now,
                    expires_at=now + timedelta(seconds=seconds) if seconds is not None else None,
                    path=relative,
                ).stamp(principal)
                file.save(force_insert=True)
                staged.commit(relative)
                moved = True
        except BaseException:
            if moved:  # renamed into place, then the commit failed: the bytes must not outlive the row
                disk.remove(relative)
            raise
        return file
    finally:
        staged.discard()


def _remove_bytes(file_id: str, relative: str) -> None:
    try:
        if not disk.remove(relative):
            logger.warning("file %s: bytes were already missing from the storage directory", file_id)
    except (OSError, ValueError):
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
