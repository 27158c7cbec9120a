"""Reading `POST /v1/files`: a multipart body whose `file` part streams straight into the storage directory.

Django's ASGI handler has already spooled the request body (to a temporary file past 2 MiB), so this reads it in
chunks and never holds an upload in memory. Two things differ from Django's defaults:

- The one `file` part goes to `StagingUploadHandler`, which writes it into `.incoming/` next to its final place,
  counting bytes against `files.max_upload_bytes` (413 the moment it is exceeded).
- Django's parser strips directories and HTML entities from filenames without saying so. The name is reported
  back as uploaded, so `RawFilenameParser` keeps it unchanged and the service refuses one that holds a path.
  It only undoes the escapes the HTML standard has multipart encoders apply (`"` as `%22`, control characters
  as `%0A` and so on), which is how httpx, and so the OpenAI SDK, and browsers send such names.

Once parsed, the form fields (and the file's name) are validated by `apps.files.schemas.FileUpload`, as a JSON
body would be by its schema. `expires_after` arrives as the OpenAI SDK sends it (`expires_after[anchor]`,
`expires_after[seconds]`) or as one JSON field; both reach the schema as the one `expires_after` field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MAX_TOTAL_HEADER_SIZE, MultiPartParser, MultiPartParserError

from apps.core.errors import BadRequestError, PayloadTooLargeError
from apps.core.text import check_value
from apps.core.validation import validated
from apps.files import disk
from apps.files.schemas import FileUpload

UPLOAD_CHUNK_BYTES = 256 * 1024
# A body this much bigger than the file limit cannot be a valid upload: refuse it before parsing anything.
_FORM_OVERHEAD_BYTES = 64 * 1024
# The HTML standard's multipart escapes for filenames: `"` and control characters as uppercase %XX.
_FORM_ESCAPE = re.compile(r"%(22|[01][0-9A-F])")
# Django's message when a part's headers are over MAX_TOTAL_HEADER_SIZE.
_HEADERS_TOO_LONG = "Request max total header size exceeded."


class RawFilenameParser(MultiPartParser):
    def sanitize_file_name(self, file_name: str) -> str | None:
        return _FORM_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), file_name) if file_name else None


class StagedUpload:
    """What `request.FILES["file"]` holds: the staged bytes and the name and type the client sent."""

    def __init__(self, staged: disk.StagedFile, name: str, content_type: str) -> None:
        self.staged = staged
        self.name = name
        self.content_type = content_type
        self.size = staged.size

    def close(self) -> None:
        # The parser closes the files it has collected when a later part fails: their bytes are garbage then.
        self.staged.discard()


class StagingUploadHandler(FileUploadHandler):
    chunk_size = UPLOAD_CHUNK_BYTES

    def __init__(self, request: HttpRequest, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.staged: disk.StagedFile | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = self.max_bytes + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) + _FORM_OVERHEAD_BYTES
        if content_length > limit:
            raise disk.too_large(self.max_bytes)
        return None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != "file":
            raise BadRequestError(
                f"Unexpected file part {field_name[:64]!r}: send the file in the 'file' field.", param=field_name
            )
        if self.staged is not None:
            raise BadRequestError("Send exactly one file per upload.", param="file")
        if content_length is not None and content_length > self.max_bytes:
            raise disk.too_large(self.max_bytes)
        self.staged = disk.StagedFile(max_bytes=self.max_bytes)
        raise StopFutureHandlers

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.staged.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StagedUpload:
        self.staged.close()
        return StagedUpload(self.staged, self.file_name, self.content_type)

    def discard(self) -> None:
        if self.staged is not None:
            self.staged.discard()


@dataclass
class Upload:
    staged: disk.StagedFile
    filename: str
    purpose: str
    expires_after_seconds: int | None

    def discard(self) -> None:
        self.staged.discard()


def _single(fields: QueryDict, name: str) -> str | None:
    values = fields.getlist(name)
    if len(values) > 1:
        raise BadRequestError(f"Invalid value for '{name}': send it once, not {len(values)} times.", param=name)
    return values[0] if values else None


def _expires_after(fields: QueryDict) -> str | dict | None:
    """The field in whichever of its two forms it was sent (the schema reads the JSON one)."""
    anchor = _single(fields, "expires_after[anchor]")
    seconds = _single(fields, "expires_after[seconds]")
    raw = _single(fields, "expires_after")
    if raw is not None and (anchor is not None or seconds is not None):
        raise BadRequestError(
            "Send 'expires_after' either as one JSON field or as 'expires_after[anchor]' and "
            "'expires_after[seconds]', not both.",
            param="expires_after",
        )
    if raw is not None:
        return raw
    if anchor is None and seconds is None:
        return None
    return {"anchor": anchor, "seconds": seconds}


def _upload(staged: StagedUpload, fields: QueryDict) -> Upload:
    form = {"file": staged.name, "purpose": _single(fields, "purpose"), "expires_after": _expires_after(fields)}
    check_value(form)  # the text rules of every /v1 request (apps.core.text)
    checked = validated(FileUpload, form)
    expires = checked.expires_after
    return Upload(
        staged=staged.staged,
        filename=checked.filename,
        purpose=checked.purpose,
        expires_after_seconds=expires.seconds if expires is not None else None,
    )


def _multipart_error(exc: MultiPartParserError) -> BadRequestError:
    if str(exc) == _HEADERS_TOO_LONG:
        # Django reads at most MAX_TOTAL_HEADER_SIZE bytes of a part's headers: a 255-character name of 4-byte
        # characters (emoji) does not fit, one of 2-byte characters does.
        return BadRequestError(
            f"Invalid value for 'file': the filename is too long. A form part's headers may take at most "
            f"{MAX_TOTAL_HEADER_SIZE} bytes, its filename included (in UTF-8, an emoji takes 4 bytes): send a "
            "shorter filename.",
            param="file",
            code="filename_too_long",
        )
    return BadRequestError(
        f"The request body is not valid multipart/form-data ({exc}); send 'file' and 'purpose' as form fields.",
        code="invalid_multipart",
    )


def receive_upload(request: HttpRequest, *, max_bytes: int) -> Upload:
    """Parse the multipart body (blocking file I/O: run it off the event loop). Nothing stays staged on failure."""
    handler = StagingUploadHandler(request, max_bytes=max_bytes)
    try:
        try:
            parser = RawFilenameParser(request.META, request, [handler], request.encoding)
            fields, files = parser.parse()
        except MultiPartParserError as exc:
            raise _multipart_error(exc) from None
        except (TooManyFieldsSent, TooManyFilesSent):
            raise BadRequestError("Too many form fields in the upload.", code="invalid_multipart") from None
        except RequestDataTooBig:
            raise PayloadTooLargeError(
                "The form fields next to the file are too large.", code="fields_too_large"
            ) from None
        upload = files.get("file")
        if upload is None:
            if "file" in fields:
                raise BadRequestError(
                    "Invalid value for 'file': send it as a file part (with a filename), not as a text field.",
                    param="file",
                )
            raise BadRequestError(
                "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
            )
        return _upload(upload, fields)
    except BaseException:
        handler.discard()
        raise
