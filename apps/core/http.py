"""Everything a `/v1` client receives is rendered here: JSON bodies, OpenAI's list envelope, errors and event streams.

The ninja exception handlers, the authentication middleware, the error middleware and the ASGI handler's early
refusals all call `error_response`, so every failure has OpenAI's shape
(`{"error": {"message", "type", "param", "code"}}`) with the `type` of `apps.core.errors.ERROR_TYPES`.

Bodies are serialised with the standard library's `json` (compact separators, UTF-8 as is): operations return
`HttpResponse`s built here, so ninja's own renderer and `response=` schemas are not applied on the hot path (see
the README's "Response schemas" for how the schemas are kept honest).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from django.http import HttpResponse, StreamingHttpResponse

from apps.core.errors import StackAdminError
from apps.core.paging import Page

JSON = "application/json"


def dumps(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(body: object, status: int = 200) -> HttpResponse:
    """`body` as JSON (bytes already serialised are sent as they are)."""
    return HttpResponse(body if isinstance(body, bytes) else dumps(body), content_type=JSON, status=status)


def list_body(data: list) -> dict:
    """OpenAI's unpaged list envelope (`/v1/models`)."""
    return {"object": "list", "data": data}


def page_body(page: Page, data: list | None = None) -> dict:
    """OpenAI's list envelope for a cursor page; `data` replaces the page's rows when they need shaping."""
    return {
        "object": "list",
        "data": page.data if data is None else data,
        "first_id": page.first_id,
        "last_id": page.last_id,
        "has_more": page.has_more,
    }


def page_response(page: Page, data: list | None = None) -> HttpResponse:
    return json_response(page_body(page, data))


def deleted_response(object_id: str, object_type: str) -> HttpResponse:
    """OpenAI's answer to a delete: the object's id and type, and `deleted: true`."""
    return json_response({"id": object_id, "object": object_type, "deleted": True})


def error_body(error: StackAdminError) -> dict:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def error_response(error: StackAdminError, *, headers: dict[str, str] | None = None) -> HttpResponse:
    response = json_response(error_body(error), status=error.status_code)
    if error.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="stackadmin"'
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# ------------------------------------------------------------------------------------------ server-sent events
def sse_data(payload: dict) -> bytes:
    """Chat Completions' stream: one `data:` line per chunk."""
    return b"data: " + dumps(payload) + b"\n\n"


def sse_event(event: str, payload: dict) -> bytes:
    """Responses' stream: an `event:` line naming the type, then the `data:` line."""
    return b"event: " + event.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def event_stream_response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def json_or_stream_response(result: dict | AsyncIterator[bytes]) -> HttpResponse | StreamingHttpResponse:
    """What a create that may stream answers: the object as JSON, or (with `stream: true`) its event stream."""
    return json_response(result) if isinstance(result, dict) else event_stream_response(result)
