"""Public contracts of the Files API: OpenAI's shapes."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from ninja import Schema
from pydantic import Field

from apps.files.models import File as FileModel
from apps.files.services import MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS, PURPOSES


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


class FileList(Schema):
    object: Literal["list"] = "list"
    data: list[FileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(Schema):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


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
