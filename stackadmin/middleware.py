"""Keep every `/v1` failure OpenAI-shaped, even the ones Django produces before an API operation runs."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from apps.core.errors import error_for_status
from apps.core.http import error_response

_DEFAULT_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    413: "Request body too large.",
    500: "Internal server error.",
}


def _openai_error(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    status = response.status_code
    message = _DEFAULT_MESSAGES.get(status, "Request failed.")
    if status == 404:
        message = f"No route for {request.method} {request.path}."
    elif status == 405:
        allowed = response.get("Allow", "")
        message = f"Method {request.method} is not allowed on {request.path}" + (
            f"; allowed: {allowed}." if allowed else "."
        )
    headers = {"Allow": response["Allow"]} if response.has_header("Allow") else None
    return error_response(error_for_status(status, message), headers=headers)


def _needs_rewrite(request: HttpRequest, response: HttpResponse) -> bool:
    if response.status_code < 400 or not request.path.startswith("/v1/"):
        return False
    if response.get("Content-Type", "").startswith("application/json"):
        try:
            return "error" not in json.loads(response.content)
        except (ValueError, AttributeError):
            return True
    return True


class V1ErrorMiddleware:
    """Outermost middleware: rewrites Django's HTML/text error pages under /v1 (unknown path, 405, 500)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return _finish(request, self.get_response(request))

    async def __acall__(self, request):
        return _finish(request, await self.get_response(request))


def _finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if _needs_rewrite(request, response):
        response = _openai_error(request, response)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
