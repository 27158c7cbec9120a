"""`/v1` authentication: `Authorization: Bearer <API key>` when `server.auth` is on (API handler only)."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpResponse

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from apps.accounts.services import api_key_authenticate
from apps.core.errors import AuthenticationError
from apps.core.http import error_response
from apps.core.principal import ANONYMOUS

PUBLIC_PATHS = frozenset({"/v1/health", "/v1/docs", "/v1/openapi.json"})
_BEARER = re.compile(r"^Bearer ([A-Za-z0-9_\-]{16,200})$")


def _unauthorized(message: str) -> HttpResponse:
    return error_response(AuthenticationError(message))


class APIKeyMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request):
        request.principal = ANONYMOUS
        if not settings.STACKADMIN_AUTH_ENABLED or request.path in PUBLIC_PATHS:
            return await self.get_response(request)
        header = request.headers.get("Authorization")
        if not header:
            return _unauthorized("Missing API key. Send it as 'Authorization: Bearer <key>'.")
        if len(header) > 300:
            return _unauthorized("Malformed Authorization header: the token is too long.")
        match = _BEARER.match(header.strip())
        if match is None:
            return _unauthorized("Malformed Authorization header: expected exactly one 'Bearer <key>'.")
        principal = await sync_to_async(api_key_authenticate)(match.group(1))
        if principal is None:
            return _unauthorized("Incorrect or revoked API key.")
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
        request.principal = SimpleLazyObject(lambda: principal_for_user(user) if user.is_authenticated else ANONYMOUS)
        return self.get_response(request)
