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
    """The base: a 500. A subclass names its HTTP status (and, if it has one, its default `code`) in its class
    statement, `class NotFoundError(StackAdminError, status=404, code="not_found")`; the OpenAI error `type`
    follows from the status through `ERROR_TYPES`."""

    status_code: int = 500
    code: str | None = None
    _by_status: dict[int, type[StackAdminError]] = {}

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
        if status is not None:  # a refinement of a status class (a code of its own) keeps its parent's status
            cls.status_code = status
            StackAdminError._by_status.setdefault(status, cls)

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    @property
    def type(self) -> str:
        return error_type(self.status_code)


class BadRequestError(StackAdminError, status=400):
    """The caller's mistake: a malformed or inconsistent request, or a reference to something unusable."""


class AuthenticationError(StackAdminError, status=401, code="invalid_api_key"):
    """No API key, a malformed one, or one that is unknown or revoked."""


class PermissionDeniedError(StackAdminError, status=403):
    """The caller can see the resource, but the access policy forbids this action on it."""


class NotFoundError(StackAdminError, status=404, code="not_found"):
    """No such resource, or one the caller may not see: the two answers are the same on purpose, so that a
    404 tells another team nothing about what exists."""


class MethodNotAllowedError(StackAdminError, status=405):
    """The path exists, the method does not (Django's 405, rewritten for `/v1`)."""


class ConflictError(StackAdminError, status=409, code="conflict"):
    """The request lost a race or quoted a stale version (optimistic concurrency)."""


class PayloadTooLargeError(StackAdminError, status=413, code="payload_too_large"):
    """A body over the endpoint's limit, refused before (or while) it is read."""


class UnsupportedMediaTypeError(StackAdminError, status=415, code="unsupported_media_type"):
    """A body in a format the endpoint does not take (a JSON endpoint takes `application/json` only)."""


class RateLimitError(StackAdminError, status=429):
    """The model server is rate limiting us; passed on so the SDK's retry logic applies."""


class UpstreamError(StackAdminError, status=502):
    """The model server answered with garbage or an error we cannot pass on as the caller's fault."""


class ServiceUnavailableError(StackAdminError, status=503):
    """A store or provider stackadmin needs is down or not configured."""


class StoreUnavailableError(ServiceUnavailableError, code="store_unavailable"):
    """A store (SQL database or KV backend) cannot be reached or refused to work: the same 503 whichever it is."""


class NotReadyError(ServiceUnavailableError, code="not_ready"):
    """A backend this server needs does not answer (`GET /v1/health/ready`)."""


class ServerShuttingDownError(ServiceUnavailableError, code="server_shutting_down"):
    """A request that reached a worker after its graceful shutdown began (on a connection kept alive)."""


class UpstreamTimeoutError(StackAdminError, status=504, code="timeout"):
    """The model server did not answer, or stopped sending, within the provider's timeout."""


def error_for_status(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> StackAdminError:
    """The error class of `status` (for failures no service raised: Django's own 404, 405, 500 pages)."""
    return StackAdminError._by_status.get(status, StackAdminError)(message, param=param, code=code)
