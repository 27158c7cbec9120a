"""`/v1` authentication: `Authorization: Bearer <API key>` when `server.auth` is on (API handler only).

The handler (stackadmin/handler.py) authenticates a request from its headers, before reading any of its body, with
`api_principal`, and leaves the principal in the ASGI scope; `APIKeyMiddleware` hands it to the request."""

from __future__ import annotations

from django.conf import settings

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from apps.accounts.services import api_key_principal
from apps.core.errors import AuthenticationError
from apps.core.http import error_response
from apps.core.principal import ANONYMOUS, Principal

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/health/ready", "/v1/docs", "/v1/openapi.json"})
# Where the `/v1` handler leaves the principal it authenticated before reading the body (stackadmin/handler.py).
SCOPE_PRINCIPAL = "stackadmin.principal"


async def api_principal(*, path: str, authorization: str | None) -> Principal:
    """Who a `/v1` request acts as: anonymous where no key is needed, else the owner of the key its
    `Authorization` header names (`AuthenticationError` when it names none)."""
    if not settings.STACKADMIN_AUTH_ENABLED or path in PUBLIC_PATHS:
        return ANONYMOUS
    return await sync_to_async(api_key_principal)(authorization=authorization)


class APIKeyMiddleware:
    """Sets `request.principal`: the one the handler found before reading the body, else (a CORS preflight, which
    the handler leaves to the middleware) the one the request's headers name."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request):
        principal = request.scope.get(SCOPE_PRINCIPAL)
        if principal is None:
            try:
                principal = await api_principal(path=request.path, authorization=request.headers.get("Authorization"))
            except AuthenticationError as exc:
                return error_response(exc)
        request.principal = principal
        return await self.get_response(request)


class SessionPrincipalMiddleware:
    """Dashboard and admin requests act as the logged-in user (with their access attributes)."""

    async_capable = False
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils.functional import SimpleLazyObject

        from apps.accounts.services import principal_for_user

        user = request.user
        request.principal = SimpleLazyObject(
            lambda: principal_for_user(user, via="dashboard") if user.is_authenticated else ANONYMOUS
        )
        return self.get_response(request)
