"""`/v1/files`: OpenAI's Files API. Uploads stream to disk (then to the bucket, if there is one); downloads stream
from where the bytes are."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.http import deleted_response, json_response, page_response
from apps.core.principal import request_principal
from apps.core.schemas import CREATE, DELETE, LIST, READ, PageOrder, responses
from apps.files import disk, selectors, services
from apps.files.models import File
from apps.files.schemas import (
    UPLOAD_REQUEST_BODY,
    FileDeleted,
    FileId,
    FileList,
    FileObject,
    PageSize,
    content_disposition,
    file_object,
)
from apps.files.uploads import receive_upload

router = Router(tags=["files"])

_LIMIT = Query(selectors.DEFAULT_PAGE_SIZE, description=f"Page size, 1-{selectors.MAX_PAGE_SIZE}.")
_ORDER = Query("desc", description="'asc' (oldest first) or 'desc' (newest first, the default).")


def _db(fn):
    """`fn` on a thread for database work, where sync views run too (for `/v1`: stackadmin/handler.py's pool)."""
    return sync_to_async(fn, thread_sensitive=True)


@router.post(
    "",
    response=responses(FileObject, *CREATE),
    summary="Upload a file",
    openapi_extra={"requestBody": UPLOAD_REQUEST_BODY},
)
async def create_file(request: HttpRequest):
    max_bytes = disk.max_upload_bytes()
    principal = request_principal(request)
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
        # A small body is already in memory: parse and store it in one trip to a database thread.
        file = await _db(_store_upload)(request, max_bytes=max_bytes, principal=principal)
    else:
        # A large one is read from Django's spool file and written to ours: blocking I/O that must not hold
        # a database thread, so it is parsed on a worker thread first.
        upload = await sync_to_async(receive_upload, thread_sensitive=False)(request, max_bytes=max_bytes)
        try:
            file = await _db(_create)(upload, principal=principal)
        finally:
            upload.discard()  # if the client left before a database thread took it over; else a no-op
    return json_response(file_object(file))


def _store_upload(request: HttpRequest, *, max_bytes: int, principal) -> File:
    return _create(receive_upload(request, max_bytes=max_bytes), principal=principal)


def _create(upload, *, principal) -> File:
    try:
        return services.file_create(
            staged=upload.staged,
            filename=upload.filename,
            purpose=upload.purpose,
            expires_after_seconds=upload.expires_after_seconds,
            principal=principal,
        )
    finally:
        upload.discard()


@router.get("", response=responses(FileList, *LIST), summary="List files")
def list_files(
    request: HttpRequest,
    after: str | None = Query(None, description="A file id: return the files after it in the chosen order."),
    limit: PageSize = _LIMIT,
    order: PageOrder = _ORDER,
    purpose: str | None = Query(None, description="Only files with this purpose."),
):
    page = selectors.file_list(
        after=after,
        limit=limit,
        order=order,
        purpose=purpose,
        principal=request_principal(request),
    )
    return page_response(page, [file_object(f) for f in page.data])


@router.get("/{file_id}", response=responses(FileObject, *READ), summary="Retrieve a file's metadata")
def get_file(request: HttpRequest, file_id: FileId):
    file = selectors.file_get(file_id=file_id, principal=request_principal(request))
    return json_response(file_object(file))


@router.delete("/{file_id}", response=responses(FileDeleted, *DELETE), summary="Delete a file and its bytes")
def delete_file(request: HttpRequest, file_id: FileId):
    services.file_delete(file_id=file_id, principal=request_principal(request))
    return deleted_response(file_id, "file")


@router.get(
    "/{file_id}/content",
    response=responses(None, *READ),
    summary="Download a file's bytes",
    openapi_extra={
        "responses": {
            200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
        }
    },
)
async def get_file_content(request: HttpRequest, file_id: FileId):
    file = await _db(selectors.file_get)(file_id=file_id, principal=request_principal(request))
    # Opened before the response starts, so a file deleted from now on still streams in full (and missing bytes
    # are a 404, not a broken stream).
    fh = await asyncio.to_thread(selectors.file_open, file)
    response = StreamingHttpResponse(disk.read_chunks(fh), content_type="application/octet-stream")
    response["Content-Length"] = str(file.bytes)
    response["Content-Disposition"] = content_disposition(file.filename)
    return response
