"""One error hierarchy for every way in, shaped like Zulip's `JsonableError`.

Services raise these; `apps.core.http.error_response` renders them as OpenAI's error body
(`{"error": {"message", "type", "param", "code"}}`), so the OpenAI SDK raises its matching exception class.
`ERROR_TYPES` is the one status -> OpenAI error `type` map. This module is a leaf: it imports nothing from the
project.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

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
    status_code = 400


class AuthenticationError(StackAdminError):
    status_code = 401
    code = "invalid_api_key"


class PermissionDeniedError(StackAdminError):
    status_code = 403


class NotFoundError(StackAdminError):
    status_code = 404
    code = "not_found"


class MethodNotAllowedError(StackAdminError):
    status_code = 405


class ConflictError(StackAdminError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(StackAdminError):
    status_code = 413
    code = "payload_too_large"


class RateLimitError(StackAdminError):
    status_code = 429


class UpstreamError(StackAdminError):
    """The model server answered with garbage or an error we cannot pass on as the caller's fault."""

    status_code = 502


class ServiceUnavailableError(StackAdminError):
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


# A schema validator whose error must read exactly as a service's `BadRequestError` (its own message, param and
# code, which a plain pydantic error cannot carry) raises `request_error(...)`; the `/v1` validation handler
# renders that error as `BadRequestError(message, param=param, code=code)`.
REQUEST_ERROR = "request_error"


def request_error(message: str, *, param: str | None, code: str | None = None) -> PydanticCustomError:
    return PydanticCustomError(REQUEST_ERROR, "{message}", {"message": message, "param": param, "code": code})
