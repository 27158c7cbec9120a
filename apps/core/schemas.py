"""Wire shapes several `/v1` apps share: OpenAI's list envelope, the answer to a delete, a cursor list's query, the
error body, and what an operation declares it may answer (`responses`).

Each operation still declares a schema of its own name (`FileList`, `ChatCompletionDeleted`) by subclassing these,
so the OpenAPI document names and describes every body as before.

The limits a selector checks itself (a page's `limit`, an id's format) are declared for the document only
(`documented`): the selector's own message stays what a client gets.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

from apps.core.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

T = TypeVar("T")


class CursorList(Schema, Generic[T]):
    """OpenAI's list envelope for a cursor page (what `apps.core.http.page_body` renders)."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Deleted(Schema):
    """OpenAI's answer to a delete (what `apps.core.http.deleted_response` renders); subclasses fix `object`."""

    id: str
    object: str
    deleted: bool = True


class ModelOutput(Schema):
    """A stored model output (chat completion, response) as the model server shaped it: the declared fields are
    the ones every client relies on; the others pass through."""

    model_config = ConfigDict(extra="allow")

    id: str
    model: str


def documented(annotation: Any, **json_schema: Any) -> Any:
    """`annotation` as the OpenAPI document shows it (`json_schema`: the limits the selector checks)."""
    return Annotated[annotation, WithJsonSchema(json_schema)]


def id_pattern(pattern: re.Pattern[str], description: str) -> dict[str, str]:
    """What the document says of an id a selector checks against `pattern`."""
    return {"type": "string", "pattern": pattern.pattern, "description": description}


def page_size(maximum: int = MAX_PAGE_SIZE) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": maximum}


PageOrder = documented(str, type="string", enum=["asc", "desc"])


class PageQuery(Schema):
    """The query of a stored-object list (`?after=&limit=&order=`); the selector checks the values.

    An operation subclasses it to document its own default page size or order and to add its filters."""

    after: str | None = None
    limit: int = Field(DEFAULT_PAGE_SIZE, description=f"Page size, 1-{MAX_PAGE_SIZE}.", json_schema_extra=page_size())
    order: Literal["asc", "desc"] = "desc"


class ModelPageQuery(PageQuery):
    """A list of stored model outputs, filtered by the model that produced them."""

    model: str | None = None


# ------------------------------------------------------------------------------------------ errors
class ErrorDetail(Schema):
    """OpenAI's error object (what `apps.core.http.error_body` renders)."""

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(Schema):
    """The body of every `/v1` error."""

    error: ErrorDetail


# The error statuses an operation declares beside the ones every operation may answer (400: a malformed request
# or Host; 500: a failure of ours), by what the operation does.
LIST = (503,)  # a store that is down
READ = (404, 503)
CREATE = (403, 409, 413, 415, 503)  # 403: the access policy; 409: an id taken; 413/415: the body
CHANGE = (403, 404, 409, 413, 415, 503)
DELETE = (403, 404, 503)
MODEL_CALL = (404, 429, 502, 504)  # an unknown model, and the model server's own failures


# The `openapi_extra` of a create that streams with `stream: true`: its 200 may also be server-sent events (the
# schema describes each event, as OpenAPI 3.1 reads it).
SERVER_SENT_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string", "description": "The event's type (Responses)."},
        "data": {"type": "string", "description": "The event as JSON; `[DONE]` ends a chat completion's stream."},
    },
}
STREAMED = {"responses": {200: {"content": {"text/event-stream": {"schema": SERVER_SENT_EVENT}}}}}


def responses(ok: Any, *errors: int) -> dict[int, Any]:
    """An operation's `response=`: `ok` (a schema, or None for no body) for 200 and OpenAI's error body for 400,
    500 and each of `errors`. (The 401 of an API key is declared when authentication is on: stackadmin.api.)"""
    return {200: ok, **dict.fromkeys(sorted({400, 500, *errors}), ErrorResponse)}
