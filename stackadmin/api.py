"""The `/v1` API: one NinjaAPI, OpenAI-shaped errors for every failure, one router per app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse

from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError as NinjaAuthenticationError
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from apps.conversations.api import router as conversations_router
from apps.files.api import router as files_router
from apps.inference.api import router as inference_router
from apps.prompts.api import router as prompts_router
from apps.responses.api import router as responses_router
from stackadmin.errors import StackAdminError

logger = logging.getLogger("stackadmin.api")

api = NinjaAPI(
    title="stackadmin",
    version="1",
    description="OpenAI- and llama-stack-compatible Prompts, Conversations, Responses, Files and Chat Completions.",
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="v1",
)

_LOCATIONS = {"body", "query", "path", "form", "file", "header", "cookie"}
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error_response(
    request: HttpRequest,
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    type: str | None = None,
) -> HttpResponse:
    body = {
        "error": {"message": message, "type": type or _TYPES.get(status, "server_error"), "param": param, "code": code}
    }
    return api.create_response(request, body, status=status)


def _param_of(loc: list | tuple) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        location = parts.pop(0)
        # Body and form operations take one schema argument named "body"; its name is not the caller's.
        if location in ("body", "form") and parts and parts[0] == "body":
            parts.pop(0)
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or None


def _validation_message(err: dict, param: str | None) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if kind == "missing":
        return f"Missing required parameter: '{param}'."
    if kind == "extra_forbidden":
        return f"Unknown parameter: '{param}'."
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"Invalid value for '{param}': {msg}." if param else f"Invalid request: {msg}."


@api.exception_handler(StackAdminError)
def on_stackadmin_error(request: HttpRequest, exc: StackAdminError) -> HttpResponse:
    return api.create_response(request, exc.to_dict(), status=exc.status_code)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    err = exc.errors[0] if exc.errors else {}
    param = _param_of(err.get("loc", ()))
    return error_response(
        request,
        400,
        _validation_message(err, param),
        param=param,
        code={"missing": "missing_required_parameter", "extra_forbidden": "unknown_parameter"}.get(
            err.get("type"), "invalid_value"
        ),
    )


@api.exception_handler(NinjaAuthenticationError)
def on_authentication_error(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
    return error_response(
        request, 401, "Missing or invalid API key. Send it as 'Authorization: Bearer <key>'.", code="invalid_api_key"
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if isinstance(exc.__cause__, RequestDataTooBig):
        return on_request_too_big(request, exc.__cause__)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The request body is not valid JSON."
    return error_response(request, exc.status_code, message)


@api.exception_handler(RequestDataTooBig)
def on_request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(
        request,
        413,
        f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        code="payload_too_large",
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, str(exc) or "Not found.", code="not_found")


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(request, 500, "The server had an error while processing your request.", code="internal_error")


health_router = Router(tags=["health"])


@health_router.get("/health", auth=None, summary="Readiness probe")
async def get_health(request: HttpRequest) -> dict:
    return {"status": "OK"}


api.add_router("", health_router)
api.add_router("", prompts_router)
api.add_router("", conversations_router)
api.add_router("", files_router)
api.add_router("", inference_router)
api.add_router("", responses_router)
