"""Keep every `/v1` failure OpenAI-shaped, even the ones Django produces before an API operation runs."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

_DEFAULT_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Internal server error.",
}
_TYPES = {
    400: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
}


def _openai_body(request: HttpRequest, response: HttpResponse) -> JsonResponse:
    status = response.status_code
    message = _DEFAULT_MESSAGES.get(status, "Request failed.")
    if status == 404:
        message = f"No route for {request.method} {request.path}."
    elif status == 405:
        allowed = response.get("Allow", "")
        message = f"Method {request.method} is not allowed on {request.path}" + (
            f"; allowed: {allowed}." if allowed else "."
        )
    body = {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error"),
            "param": None,
            "code": "not_found" if status == 404 else None,
        }
    }
    new = JsonResponse(body, status=status)
    if response.has_header("Allow"):
        new["Allow"] = response["Allow"]
    return new


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
        response = _openai_body(request, response)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
