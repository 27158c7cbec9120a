"""What keeps web pages in the user's browser away from `/v1`: the API handler's refusals before any body is read.

With authentication off (the loopback default) `/v1` trusts whoever reaches it, and any page open in the user's
browser can reach 127.0.0.1. Three rules close the ways such a page gets in:

1. **Host.** The `Host` header must name this server (Django's `ALLOWED_HOSTS`, checked as Django's
   `HttpRequest.get_host` checks it, which the lean handler otherwise never calls): a page on a DNS-rebound name
   (`attacker.example` resolving to 127.0.0.1) reads nothing. 400.
2. **Origin.** Browsers mark what a page sends: `Origin` on every cross-origin request (and on same-origin ones
   other than GET and HEAD), `Sec-Fetch-Site` on every request. A request whose `Origin` is neither this server nor
   one of `server.cors.allowed_origins`, or that the browser marks `Sec-Fetch-Site: cross-site` and whose origin is
   not listed, is a 403. Listed origins get CORS from django-cors-headers in `API_MIDDLEWARE` (preflights
   included); this module only lets them through.
3. **Content type.** A body must be declared JSON (`application/json`, any parameters), except the multipart file
   upload: a page can send `text/plain`, form-encoded and multipart bodies without a CORS preflight, never JSON. 415.

Clients that are not browsers (the OpenAI SDK, llama-stack-client, curl) send neither `Origin` nor
`Sec-Fetch-Site`, and the SDKs declare their JSON, so they are never refused here.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_header_parameters

from apps.core.errors import BadRequestError, PermissionDeniedError, UnsupportedMediaTypeError
from apps.core.http import error_response

# Where Django reports a request for a host it does not serve, so that the same logging filters apply.
security_logger = logging.getLogger("django.security.DisallowedHost")

_WANTED = frozenset(
    {
        b"host",
        b"x-forwarded-host",
        b"origin",
        b"sec-fetch-site",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
    }
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON = "application/json"


def header(scope, name: bytes) -> str | None:
    """A request header as Django's `request.headers` gives it: latin-1, repeated values joined by commas."""
    values = [value.decode("latin1") for key, value in scope.get("headers", ()) if key == name]
    return ",".join(values) if values else None


def refusal(scope: dict) -> HttpResponse | None:
    """The answer to a `/v1` request that breaks one of the module's rules, or None to serve it."""
    headers = {name.decode(): value.decode("latin-1") for name, value in scope.get("headers", ()) if name in _WANTED}
    host = _raw_host(scope, headers)
    if not _host_allowed(host):
        security_logger.warning("Invalid HTTP_HOST header: %r. You may need to add it to ALLOWED_HOSTS.", host)
        return error_response(
            BadRequestError(
                f"This server does not answer to the host name {host!r}. Use a name listed in its "
                "DJANGO_ALLOWED_HOSTS.",
                code="invalid_host",
            )
        )
    return _cross_site_refusal(scope, headers, host) or _content_type_refusal(scope, headers)


# The next two copy Django's `HttpRequest._get_raw_host` and `get_host` (pinned in tests/test_handler.py): building a
# request to call them would cost more than the rest of this module.
def _raw_host(scope: dict, headers: dict[str, str]) -> str:
    if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
        return headers["x-forwarded-host"]
    if "host" in headers:
        return headers["host"]
    name, port = scope.get("server") or ("unknown", "0")
    return name if str(port) == ("443" if scope.get("scheme") == "https" else "80") else f"{name}:{port}"


def _host_allowed(host: str) -> bool:
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed_hosts)


def cors_allowed(origin: str) -> bool:
    """Whether `origin` is configured for CORS: the comparison django-cors-headers makes (scheme and host:port)."""
    url = urlsplit(origin)
    return any(
        (allowed.scheme, allowed.netloc) == (url.scheme, url.netloc)
        for allowed in map(urlsplit, settings.CORS_ALLOWED_ORIGINS)
    )


def readable_by_listed_page(scope: dict, response: HttpResponse) -> HttpResponse:
    """An answer the handler gives before the middleware runs (a 401, a 413), with the CORS headers
    django-cors-headers would have added, so that a listed page can read why it was refused."""
    origin = header(scope, b"origin")
    try:
        listed = origin is not None and cors_allowed(origin)
    except ValueError:
        listed = False
    if listed:
        response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ("origin",))
    return response


def _same_origin(origin: str, scheme: str, host: str) -> bool:
    """Whether `origin` is this server's: the scheme the request came by (a local proxy's `X-Forwarded-Proto`, as
    uvicorn applies it) and the host it names."""
    url = urlsplit(origin)
    return url.scheme == scheme and url.netloc.lower() == host.lower()


def _cross_site_refusal(scope: dict, headers: dict[str, str], host: str) -> HttpResponse | None:
    origin = headers.get("origin")
    try:
        if origin is not None and cors_allowed(origin):
            return None
        foreign = origin is not None and not _same_origin(origin, scope.get("scheme", "http"), host)
    except ValueError:  # an Origin that is not a URL at all
        foreign = True
    if headers.get("sec-fetch-site") == "cross-site" or foreign:
        shown = f"from {origin} " if origin else ""
        return error_response(
            PermissionDeniedError(
                f"Cross-site browser requests {shown}are refused: /v1 answers web pages of its own origin and of "
                "the origins listed in the run config's server.cors.allowed_origins.",
                code="cross_site_request",
            )
        )
    return None


def _content_type_refusal(scope: dict, headers: dict[str, str]) -> HttpResponse | None:
    if scope["method"] not in _BODY_METHODS or not _has_body(headers) or is_file_upload(scope):
        return None
    declared = headers.get("content-type", "")
    if parse_header_parameters(declared)[0] == _JSON:
        return None
    shown = f"'{declared}'" if declared else "no content type"
    return error_response(
        UnsupportedMediaTypeError(f"Send the request body as JSON with 'Content-Type: {_JSON}' (got {shown}).")
    )


def _has_body(headers: dict[str, str]) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")


def is_file_upload(scope: dict) -> bool:
    """`POST /v1/files` takes multipart/form-data (apps.files.uploads reads it and refuses anything else)."""
    return scope["method"] == "POST" and scope["path"].rstrip("/") == "/v1/files"
