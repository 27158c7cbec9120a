"""Watching the server from outside: per-request metrics and the access log (both opt-in), and `GET /metrics`.

`observed(app)` wraps the HTTP application (stackadmin/asgi.py). It times each request from its arrival to the end
of its response body (a download or a stream included), takes the status from `http.response.start`, and then,
when `server.metrics.enabled`, counts it in `stackadmin_http_requests_total` and
`stackadmin_http_request_duration_seconds`, and when `server.access_log` is set, writes one line to the
`stackadmin.access` logger. The route is the URL pattern that matched (`/v1/files/<file_id>/content`, never the
path itself, whose ids would make a label per request): `RouteMiddleware`, first in both middleware stacks, leaves
it and the principal's name in the ASGI scope. A request refused before any middleware ran (a body over the limit,
a bad Host) has its path resolved here instead; one that matches no pattern is `unmatched`.

With both off, the wrapper costs two settings lookups per request and the middleware is not installed.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_GET

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from apps.accounts.middleware import SCOPE_PRINCIPAL
from apps.core import metrics

access_logger = logging.getLogger("stackadmin.access")
SCOPE_ROUTE = "stackadmin.route"
SCOPE_WHO = "stackadmin.who"


class RouteMiddleware:
    """Leaves the matched URL pattern and who made the request in the ASGI scope, for `observed`."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        response = self.get_response(request)
        _note(request)
        return response

    async def _acall(self, request):
        response = await self.get_response(request)
        _note(request)
        return response


def _note(request: HttpRequest) -> None:
    scope = getattr(request, "scope", None)
    if scope is None:
        return
    match = request.resolver_match
    if match is not None:
        scope[SCOPE_ROUTE] = "/" + match.route
    # Only a user already loaded (by the view, or a login) is named: loading one costs a query per request.
    user = request.__dict__.get("_cached_user")
    if user is not None and user.is_authenticated:
        scope[SCOPE_WHO] = user.get_username()


def _route(scope) -> str:
    route = scope.get(SCOPE_ROUTE)
    if route is not None:
        return route
    try:
        return "/" + resolve(scope.get("path", "")).route
    except Resolver404:
        return "unmatched"


def _who(scope) -> str:
    principal = scope.get(SCOPE_PRINCIPAL)  # a /v1 request's API key owner, when authentication is on
    if principal is not None and not principal.is_anonymous:
        return principal.name
    return scope.get(SCOPE_WHO) or "-"


def _log_line(fmt: str, *, method: str, route: str, status: int, seconds: float, scope) -> str:
    fields = {
        "method": method,
        "route": route,
        "path": scope.get("path", ""),
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "principal": _who(scope),
        "client": (scope.get("client") or ("-",))[0],
    }
    if fmt == "json":
        return json.dumps(fields, ensure_ascii=False)
    return " ".join(f"{key}={value}" for key, value in fields.items())


def observed(app):
    """`app` with each HTTP request counted, timed and logged, as the run config asks."""

    async def observed_app(scope, receive, send):
        metrics_on = settings.STACKADMIN_METRICS_ENABLED
        log_format = settings.STACKADMIN_ACCESS_LOG
        if not (metrics_on or log_format):
            return await app(scope, receive, send)
        started = time.perf_counter()
        status = 0

        async def watched_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, watched_send)
        finally:
            seconds = time.perf_counter() - started
            method, route = scope.get("method", ""), _route(scope)
            status = status or 500  # the application failed before answering; the server sends a 500
            if metrics_on:
                metrics.http_request(method, route, status, seconds)
            if log_format:
                access_logger.info(
                    _log_line(log_format, method=method, route=route, status=status, seconds=seconds, scope=scope)
                )

    return observed_app


# ------------------------------------------------------------------------------------------ GET /metrics
def _allowed(request: HttpRequest) -> bool:
    """As `/v1`: open while authentication is off (by default, a server bound to loopback only); else the metrics
    token (`server.metrics.token`) or any stackadmin API key, as `Authorization: Bearer ...`. A client's loopback
    address proves nothing (a reverse proxy on the same machine has one)."""
    if not settings.STACKADMIN_AUTH_ENABLED:
        return True
    scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    token = settings.STACKADMIN_METRICS_TOKEN
    if token and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    from apps.accounts.services import api_key_principal
    from apps.core.errors import AuthenticationError

    try:
        api_key_principal(authorization=f"Bearer {presented}")
    except AuthenticationError:
        return False
    return True


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    if not settings.STACKADMIN_METRICS_ENABLED:
        raise Http404("Metrics are off (server.metrics.enabled).")
    if not _allowed(request):
        response = HttpResponse(
            "Metrics need 'Authorization: Bearer <metrics token or API key>'.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def mark_worker_dead() -> None:
    """At a worker's shutdown: its live gauges (queued writes, open websockets) stop counting."""
    if settings.STACKADMIN_METRICS_ENABLED and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
