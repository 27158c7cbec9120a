"""Prompt archives over HTTP, for the dashboard's and the admin's Import and Export: an uploaded archive saved where
`apps.prompts.transfer.read_archives` reads it, under a size limit, and a download streamed prompt by prompt.

An upload is saved in a private temporary directory (mode 0700) under its own name, cleaned of anything but
letters, digits, `.`, `-`, `_` and spaces, so that a problem names the file the user chose; the directory is
removed afterwards. Its size is checked before the body is parsed: from `Content-Length`, and while it is read (a
body that announces none); the view must let this run before the CSRF check reads the form (see
`prompts.views.prompt_import`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, StreamingHttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.http import content_disposition_header

from asgiref.sync import sync_to_async

from apps.prompts.transfer import document_pieces, iter_documents

# What multipart framing and the form's other fields add to the file itself.
FORM_OVERHEAD = 64 * 1024
_UNSAFE = re.compile(r"[^\w.\- ]")


def too_large_message() -> str:
    limit = filesizeformat(settings.STACKADMIN_IMPORT_MAX_BYTES)
    return (
        f"The file is larger than the {limit} an import from this page may be; nothing was read. Import it with "
        "`stackadmin prompts import`, or export fewer prompts per file (`stackadmin prompts export --output DIR` "
        "writes one file per prompt)."
    )


class _SizeLimit(FileUploadHandler):
    """Stops reading an upload once the request's files are over the limit (`exceeded` then says so)."""

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.STACKADMIN_IMPORT_MAX_BYTES:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (Django's) makes the file


def limit_upload(request: HttpRequest) -> str | None:
    """Before the request's form is read: the refusal of a body announced as too large (nothing of it is parsed),
    else None, with the limit put in place for the reading."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > settings.STACKADMIN_IMPORT_MAX_BYTES + FORM_OVERHEAD:
        return too_large_message()
    request.upload_handlers.insert(0, _SizeLimit(request))
    return None


def upload_exceeded(request: HttpRequest) -> str | None:
    """After the form was read: the refusal of an upload that turned out too large while it was read, else None."""
    if any(isinstance(h, _SizeLimit) and h.exceeded for h in request.upload_handlers):
        return too_large_message()
    return None


def safe_name(name: str | None) -> str:
    """A file name to save an upload under: its last path component, with anything but letters, digits, `.`, `-`,
    `_` and spaces replaced."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:120]
    return cleaned or "upload"


@contextmanager
def saved_upload(upload: UploadedFile) -> Iterator[tuple[Path, Path]]:
    """(directory, file): the upload written under its cleaned name in a new private directory, removed after."""
    directory = Path(tempfile.mkdtemp(prefix="stackadmin-import-"))
    try:
        path = directory / safe_name(upload.name)
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        yield directory, path
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _streamed(pieces: Iterator[str]) -> AsyncIterator[bytes]:
    """Under ASGI a response needs an async iterator (Django reads a sync one whole before sending): each piece is
    made on the thread Django runs the view's database work on, one prompt at a time."""
    take = sync_to_async(next)
    while (piece := await take(pieces, None)) is not None:
        if piece:
            yield piece.encode()


def archive_download(dumps: Iterable, *, name: str = "prompts") -> StreamingHttpResponse:
    """The archive of `dumps` (apps.prompts.selectors.PromptDump) as a JSON download, in the command's format,
    streamed: memory holds one prompt at a time, however many are exported."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        _streamed(document_pieces(iter_documents(dumps), "json")), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{name}-{stamp}.json")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
