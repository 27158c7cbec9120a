"""One error hierarchy for every way in.

Services raise these; the `/v1` handlers render them as OpenAI's error body
(`{"error": {"message", "type", "param", "code"}}`), so the OpenAI SDK raises its matching
exception class. This module is a leaf: it imports nothing from the project.
"""

from __future__ import annotations


class StackAdminError(Exception):
    status_code: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class BadRequestError(StackAdminError):
    status_code = 400
    type = "invalid_request_error"


class AuthenticationError(StackAdminError):
    status_code = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(StackAdminError):
    status_code = 403
    type = "permission_error"


class NotFoundError(StackAdminError):
    status_code = 404
    type = "invalid_request_error"
    code = "not_found"


class ConflictError(StackAdminError):
    status_code = 409
    type = "invalid_request_error"
    code = "conflict"


class PayloadTooLargeError(StackAdminError):
    status_code = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class RateLimitError(StackAdminError):
    status_code = 429
    type = "rate_limit_error"


class InternalServerError(StackAdminError):
    status_code = 500
    type = "server_error"


class UpstreamError(StackAdminError):
    """The model server answered with garbage or an error we cannot pass on as the caller's fault."""

    status_code = 502
    type = "upstream_error"


class ServiceUnavailableError(StackAdminError):
    status_code = 503
    type = "server_error"


class UpstreamTimeoutError(StackAdminError):
    status_code = 504
    type = "upstream_error"
    code = "timeout"
