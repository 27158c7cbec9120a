"""File reads. An expired file is gone as far as readers are concerned, whether or not it was purged yet.

`files_visible` is where the caller's principal will narrow the rows once access control exists; it is a
queryset filter, so it will land in the same statement as the page or lookup it restricts.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import mimetypes
from datetime import datetime
from typing import BinaryIO

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.paging import Page, check_page_args, pk_page
from apps.core.principal import ANONYMOUS, Principal
from apps.files import disk
from apps.files.blobs import blob_store
from apps.files.models import File

logger = logging.getLogger("apps.files")
DEFAULT_PAGE_SIZE = 10_000
MAX_PAGE_SIZE = 10_000


def validate_file_id(file_id: object, *, param: str = "file_id") -> str:
    if not isinstance(file_id, str) or not disk.FILE_ID_RE.fullmatch(file_id):
        shown = str(file_id)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise BadRequestError(
            f"Invalid value for '{param}': {shown}. File ids are 'file-' followed by 32 lowercase hex characters.",
            param=param,
            code="invalid_value",
        )
    return file_id


def file_not_found(file_id: str) -> NotFoundError:
    return NotFoundError(
        f"File '{file_id}' not found. Use 'client.files.list()' to list available files.", param="file_id"
    )


def files_visible(*, principal: Principal = ANONYMOUS, action: str = "read") -> QuerySet[File]:
    """Files the principal may `action` under the access policy, filtered in the query itself."""
    return File.objects.visible_to(principal, action)


def unexpired(files: QuerySet[File], *, now: datetime | None = None) -> QuerySet[File]:
    return files.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now()))


def file_get(
    *, file_id: str, include_expired: bool = False, principal: Principal = ANONYMOUS, now: datetime | None = None
) -> File:
    """A file by id. Expired files are not found, except for operators (`include_expired`) until they are purged."""
    validate_file_id(file_id)
    files = files_visible(principal=principal)
    file = (files if include_expired else unexpired(files, now=now)).filter(public_id=file_id).first()
    if file is None:
        raise file_not_found(file_id)
    return file


def file_list(
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    order: str = "desc",
    purpose: str | None = None,
    principal: Principal = ANONYMOUS,
    now: datetime | None = None,
) -> Page:
    """Unexpired files in upload order (by the integer key, which never ties), `limit + 1` read for `has_more`.

    One statement, the cursor's position included; only an empty page costs a second, to tell an unknown cursor.
    """
    check_page_args(limit, order, max_limit=MAX_PAGE_SIZE)
    visible = files_visible(principal=principal)
    rows = unexpired(visible, now=now)
    if purpose is not None:
        rows = rows.filter(purpose=purpose)
    # The cursor may have expired since the previous page was read; its position still counts.
    return pk_page(rows, cursors=visible, after=after, limit=limit, order=order, noun="file")


def file_open(file: File) -> BinaryIO:
    """A readable handle on a file's bytes (blocking: a network request for a bucket), for streaming them out.
    Bytes missing behind the row are a 404 for the caller, and an error in the log for the operator."""
    store = blob_store()
    try:
        return store.open(file.path)
    except FileNotFoundError:
        logger.error("file %s: its bytes are missing from the %s (%s)", file.public_id, store.describe(), file.path)
        raise file_not_found(file.public_id) from None


def file_data_url(*, file_id: str, principal: Principal = ANONYMOUS, max_bytes: int) -> tuple[File, str]:
    """A file's bytes as a `data:` URL (its type guessed from its name), to send a model inline; a 404 unless the
    principal may read it, a 400 (param `file_id`) when it is over `max_bytes`."""
    file = file_get(file_id=file_id, principal=principal)
    if file.bytes > max_bytes:
        raise BadRequestError(
            f"File '{file_id}' is {disk.human_size(file.bytes)}; at most {disk.human_size(max_bytes)} can be sent to "
            "a model.",
            param="file_id",
            code="file_too_large",
        )
    mime = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
    return file, f"data:{mime};base64,{base64.b64encode(_read_all(file)).decode('ascii')}"


def _read_all(file: File) -> bytes:
    with contextlib.closing(file_open(file)) as handle:
        return handle.read()


def files_expired(*, now: datetime | None = None) -> QuerySet[File]:
    """Every expired file, whoever owns it: what `purge_expired_files` removes."""
    return File.objects.filter(expires_at__lte=now or timezone.now())
