"""Public contracts of the Files API: OpenAI's shapes.

An upload is multipart, read by hand so the file streams to disk (`apps.files.uploads`); its form fields are then
validated here, by `FileUpload`, like any other request body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import quote

from ninja import Schema
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from apps.core.schemas import CursorList, Deleted, documented, id_pattern, page_size
from apps.core.text import loads
from apps.core.validation import invalid, missing
from apps.files.disk import FILE_ID_RE
from apps.files.models import File as FileModel
from apps.files.models import Purpose
from apps.files.selectors import MAX_PAGE_SIZE

FileId = documented(str, **id_pattern(FILE_ID_RE, "'file-' followed by 32 lowercase hex characters."))
PageSize = documented(int, **page_size(MAX_PAGE_SIZE))

MAX_FILENAME_CHARS = 255
MIN_EXPIRY_SECONDS = 3600
MAX_EXPIRY_SECONDS = 2_592_000
PURPOSES = tuple(Purpose.values)


def _filename(filename: Any) -> str:
    """The name is kept as uploaded, so it must be a plain name: no directories, no control characters."""
    if not isinstance(filename, str) or not filename:
        raise invalid("the upload has no filename", code=None)
    if len(filename) > MAX_FILENAME_CHARS:
        raise invalid(
            f"the filename is {len(filename)} characters; at most {MAX_FILENAME_CHARS}",
            code="string_above_max_length",
        )
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise invalid(f"the filename {filename!r} contains a path; send the file's name only", code="invalid_filename")
    if any(ord(c) < 32 or ord(c) == 127 for c in filename):
        raise invalid(f"the filename {filename!r} contains control characters", code="invalid_filename")
    return filename


def _purpose(purpose: Any) -> str:
    if purpose is None or purpose == "":
        raise missing()
    if purpose not in PURPOSES:
        raise invalid(f"{str(purpose)[:64]!r}; expected one of {', '.join(PURPOSES)}")
    return purpose


def _anchor(anchor: Any) -> str:
    if anchor is None:
        raise missing()
    if anchor != "created_at":
        raise invalid(f"{str(anchor)[:64]!r}; the only supported anchor is 'created_at'")
    return anchor


def _seconds(seconds: Any) -> int:
    """A whole number of seconds from 1 hour to 30 days (form values arrive as strings)."""
    if seconds is None:
        raise missing()
    # ASCII digits only: `int()` would also take other scripts' digits ("٣٦٠٠").
    if isinstance(seconds, str) and seconds.strip().isascii() and seconds.strip().isdecimal():
        seconds = int(seconds.strip())
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise invalid(f"{str(seconds)[:64]!r} is not a whole number of seconds", code="invalid_type")
    if not MIN_EXPIRY_SECONDS <= seconds <= MAX_EXPIRY_SECONDS:
        raise invalid(
            f"{seconds}; expected {MIN_EXPIRY_SECONDS} (1 hour) to {MAX_EXPIRY_SECONDS} (30 days)",
        )
    return seconds


def _expires_after_object(value: Any) -> Any:
    """`expires_after` sent as one JSON form field is decoded first (by the rules of any JSON body)."""
    if isinstance(value, str):
        try:
            value = loads(value, at=("expires_after",))
        except ValueError:
            raise invalid('expected JSON like {"anchor": "created_at", "seconds": 3600}', code=None) from None
    if not isinstance(value, Mapping):
        raise invalid("expected an object with 'anchor' and 'seconds'", code=None)
    return value


class ExpiresAfter(BaseModel):
    anchor: Annotated[Any, AfterValidator(_anchor)] = Field(None, validate_default=True)
    seconds: Annotated[Any, AfterValidator(_seconds)] = Field(None, validate_default=True)


class FileUpload(BaseModel):
    """The form fields of an upload, and the name its file part was sent with (a mistake in it names `file`)."""

    filename: Annotated[Any, AfterValidator(_filename)] = Field(None, alias="file", validate_default=True)
    purpose: Annotated[Any, AfterValidator(_purpose)] = Field(None, validate_default=True)
    expires_after: Annotated[ExpiresAfter, BeforeValidator(_expires_after_object)] | None = None


class FileObject(Schema):
    id: str = Field(description="'file-' followed by 32 lowercase hex characters.")
    object: Literal["file"] = "file"
    bytes: int
    created_at: int = Field(description="Unix seconds.")
    expires_at: int | None = Field(description="Unix seconds; null when the file does not expire.")
    filename: str = Field(description="As uploaded.")
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None


class FileList(CursorList[FileObject]):
    """A page of files."""


class FileDeleted(Deleted):
    object: Literal["file"] = "file"


UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string", "enum": list(PURPOSES)},
                    "expires_after[anchor]": {"type": "string", "enum": ["created_at"]},
                    "expires_after[seconds]": {
                        "type": "integer",
                        "minimum": MIN_EXPIRY_SECONDS,
                        "maximum": MAX_EXPIRY_SECONDS,
                    },
                    "expires_after": {
                        "type": "string",
                        "description": 'Alternative to the two fields above: JSON such as {"anchor": '
                        '"created_at", "seconds": 3600}.',
                    },
                },
            }
        }
    },
}


def file_object(file: FileModel) -> dict:
    return {
        "id": file.public_id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": int(file.created_at.timestamp()),
        "expires_at": int(file.expires_at.timestamp()) if file.expires_at is not None else None,
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": None,
    }


_UNSAFE_IN_HEADER = re.compile(r"[^A-Za-z0-9._-]")


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII-only `filename` (anything unusual becomes `_`) and the exact name in `filename*`."""
    fallback = _UNSAFE_IN_HEADER.sub("_", filename.replace("..", "_"))
    if fallback.startswith("."):
        fallback = "_" + fallback[1:]
    fallback = fallback or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
