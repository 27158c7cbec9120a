"""The `/v1` API: one NinjaAPI, OpenAI-shaped errors for every failure, one router per app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse

from ninja import NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError as NinjaAuthenticationError
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from apps.accounts.middleware import PUBLIC_PATHS
from apps.conversations.api import router as conversations_router
from apps.core.errors import (
    AuthenticationError,
    NotFoundError,
    NotReadyError,
    PayloadTooLargeError,
    StackAdminError,
    error_for_status,
)
from apps.core.http import error_response, json_response
from apps.core.schemas import responses
from apps.core.text import JsonParser, check_path_params
from apps.core.validation import request_error
from apps.files.api import router as files_router
from apps.inference.api import chat_completions_router, models_router, providers_router
from apps.prompts.api import router as prompts_router
from apps.responses.api import router as responses_router
from apps.storage.errors import STORE_OUTAGES, reported_error
from stackadmin.health import readiness

logger = logging.getLogger("stackadmin.api")


class V1API(NinjaAPI):
    """The NinjaAPI whose OpenAPI document follows the run config: with authentication on, every operation but
    the public ones needs a bearer API key and may answer 401 (the key is checked by
    `apps.accounts.middleware.APIKeyMiddleware`, not by ninja)."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> dict:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        if settings.STACKADMIN_AUTH_ENABLED:
            _require_api_key(schema)
        return schema


def _require_api_key(schema: dict) -> None:
    schema["components"]["securitySchemes"] = {
        "APIKey": {"type": "http", "scheme": "bearer", "description": "A stackadmin API key."}
    }
    schema["security"] = [{"APIKey": []}]
    unauthorized = {
        "description": "Unauthorized",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if path in PUBLIC_PATHS:
                operation["security"] = []
            else:
                operation["responses"][401] = unauthorized


api = V1API(
    title="stackadmin",
    version="1",
    description="OpenAI- and llama-stack-compatible Prompts, Conversations, Responses, Files and Chat Completions.",
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="v1",
    parser=JsonParser(),  # bodies and query strings are checked for text no store can hold (apps/core/text.py)
)
api.add_decorator(check_path_params, mode="view")


@api.exception_handler(StackAdminError)
def on_stackadmin_error(request: HttpRequest, exc: StackAdminError) -> HttpResponse:
    return error_response(exc)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    """Request validation is a 400 naming the field (never ninja's 422)."""
    return error_response(request_error(exc.errors))


@api.exception_handler(NinjaAuthenticationError)
def on_authentication_error(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
    return error_response(AuthenticationError("Missing or invalid API key. Send it as 'Authorization: Bearer <key>'."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = str(exc)
    if isinstance(exc.__cause__, StackAdminError):  # raised by our parser while ninja parsed the body
        return error_response(exc.__cause__)
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


def on_store_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A SQL store that cannot be reached (or lost its connection) and a failing KV backend are one 503."""
    return error_response(reported_error(exc))


for outage in STORE_OUTAGES:
    api.add_exception_handler(outage, on_store_unavailable)


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        StackAdminError("The server had an error while processing your request.", code="internal_error")
    )


health_router = Router(tags=["health"])


class Health(Schema):
    status: str


class BackendCheck(Schema):
    type: str
    status: str
    error: str | None = None


class Readiness(Schema):
    status: str
    checks: dict[str, BackendCheck]


@health_router.get("/health", auth=None, response=responses(Health), summary="Liveness probe (no backend is asked)")
async def get_health(request: HttpRequest) -> dict:
    return {"status": "OK"}


@health_router.get(
    "/health/ready",
    auth=None,
    response=responses(Readiness, 503),
    summary="Readiness probe: every configured backend (SQL, KV, channel layer, file storage) answers",
)
async def get_readiness(request: HttpRequest):
    checks = await readiness()
    failed = {path: check for path, check in checks.items() if check["status"] != "ok"}
    if failed:
        reasons = "; ".join(f"{path} ({check['type']}): {check['error']}" for path, check in failed.items())
        raise NotReadyError(f"Not ready: {reasons}", param=next(iter(failed)))
    return json_response({"status": "OK", "checks": checks})


api.add_router("", health_router)
api.add_router("/prompts", prompts_router)
api.add_router("/conversations", conversations_router)
api.add_router("/files", files_router)
api.add_router("/models", models_router)
api.add_router("/providers", providers_router)
api.add_router("/chat/completions", chat_completions_router)
api.add_router("/responses", responses_router)
