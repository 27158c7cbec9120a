"""One error hierarchy for every way in, shaped like Zulip's `JsonableError`.

Services raise these; `apps.core.http.error_response` renders them as OpenAI's error body
(`{"error": {"message", "type", "param", "code"}}`), so the OpenAI SDK raises its matching exception class.
`ERROR_TYPES` is the one status -> OpenAI error `type` map. This module is a leaf: it imports nothing from the
project.
"""

from __future__ import annotations

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_request_error",  # what OpenAI answers with a bad key (code `invalid_api_key`)
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    504: "upstream_error",
}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "server_error")


class StackAdminError(Exception):
    status_code: int = 500
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    @property
    def type(self) -> str:
        return error_type(self.status_code)


class BadRequestError(StackAdminError):
    """The caller's mistake: a malformed or inconsistent request, or a reference to something unusable."""

    status_code = 400


class AuthenticationError(StackAdminError):
    """No API key, a malformed one, or one that is unknown or revoked."""

    status_code = 401
    code = "invalid_api_key"


class PermissionDeniedError(StackAdminError):
    """The caller can see the resource, but the access policy forbids this action on it."""

    status_code = 403


class NotFoundError(StackAdminError):
    """No such resource, or one the caller may not see (the two are indistinguishable on purpose)."""

    status_code = 404
    code = "not_found"


class MethodNotAllowedError(StackAdminError):
    """The path exists, the method does not (Django's 405, rewritten for `/v1`)."""

    status_code = 405


class ConflictError(StackAdminError):
    """The request lost a race or quoted a stale version (optimistic concurrency)."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(StackAdminError):
    """A body over the endpoint's limit, refused before (or while) it is read."""

    status_code = 413
    code = "payload_too_large"


class RateLimitError(StackAdminError):
    """The model server is rate limiting us; passed on so the SDK's retry logic applies."""

    status_code = 429


class UpstreamError(StackAdminError):
    """The model server answered with garbage or an error we cannot pass on as the caller's fault."""

    status_code = 502


class ServiceUnavailableError(StackAdminError):
    """A store or provider stackadmin needs is down or not configured."""

    status_code = 503


class UpstreamTimeoutError(StackAdminError):
    status_code = 504
    code = "timeout"


def error_for_status(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> StackAdminError:
    """The error class of `status` (for failures no service raised: Django's own 404, 405, 500 pages)."""
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        PayloadTooLargeError,
        RateLimitError,
        UpstreamError,
        ServiceUnavailableError,
        UpstreamTimeoutError,
    ):
        if cls.status_code == status:
            return cls(message, param=param, code=code)
    return StackAdminError(message, param=param, code=code)
