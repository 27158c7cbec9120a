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
from apps.core.errors import (
    REQUEST_ERROR,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    StackAdminError,
    error_for_status,
)
from apps.core.http import error_response
from apps.files.api import router as files_router
from apps.inference.api import chat_completions_router, models_router
from apps.prompts.api import router as prompts_router
from apps.responses.api import router as responses_router

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
    return error_response(exc)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    err = exc.errors[0] if exc.errors else {}
    if err.get("type") == REQUEST_ERROR:
        ctx = err["ctx"]
        return error_response(BadRequestError(ctx["message"], param=ctx["param"], code=ctx["code"]))
    param = _param_of(err.get("loc", ()))
    code = {"missing": "missing_required_parameter", "extra_forbidden": "unknown_parameter"}.get(
        err.get("type"), "invalid_value"
    )
    return error_response(BadRequestError(_validation_message(err, param), param=param, code=code))


@api.exception_handler(NinjaAuthenticationError)
def on_authentication_error(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
    return error_response(AuthenticationError("Missing or invalid API key. Send it as 'Authorization: Bearer <key>'."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if isinstance(exc.__cause__, RequestDataTooBig):
        return on_request_too_big(request, exc.__cause__)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The request body is not valid JSON."
    return error_response(error_for_status(exc.status_code, message))


@api.exception_handler(RequestDataTooBig)
def on_request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(
        PayloadTooLargeError(f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(NotFoundError(str(exc) or "Not found."))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        StackAdminError("The server had an error while processing your request.", code="internal_error")
    )


health_router = Router(tags=["health"])


@health_router.get("/health", auth=None, summary="Readiness probe")
async def get_health(request: HttpRequest) -> dict:
    return {"status": "OK"}


api.add_router("", health_router)
api.add_router("/prompts", prompts_router)
api.add_router("/conversations", conversations_router)
api.add_router("/files", files_router)
api.add_router("/models", models_router)
api.add_router("/chat/completions", chat_completions_router)
api.add_router("/responses", responses_router)
