"""The lean `/v1` handler (stackadmin/handler.py) copies parts of Django's ASGI handler.

These digests pin the Django code it copies or relies on. When a Django upgrade changes one of them this test
fails on purpose: compare the new Django source with `stackadmin/handler.py` (what `handle` does per request, how
`load_middleware` reads `MIDDLEWARE`, what `__call__` wraps requests in, how `read_body` spools a body) or
`stackadmin/browser_guard.py` (how `get_host` checks the host), carry any fix over, then update the digest here.
"""

from __future__ import annotations

import hashlib
import inspect

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest

import pytest

PINNED = {
    "ASGIHandler.__call__": (ASGIHandler.__call__, "f756809e9c9308dcccb78a301fccf09196e80cdc4745690f80384d09b69dd102"),
    "ASGIHandler.handle": (ASGIHandler.handle, "98faeb5bef800331e6a8002fbc96b30e4122a23438ae45a047190a531ea11323"),
    "ASGIHandler.read_body": (
        ASGIHandler.read_body,
        "cf4aa904631d5410206f1a6b12ef0c74e99e4bd7313232c8e61f7a09a66a95e1",
    ),
    "BaseHandler.load_middleware": (
        BaseHandler.load_middleware,
        "a1fb7ee5f8586195da2174d1bbc2bbfc7ca19b9d26ea66412cb434f45bf6d467",
    ),
    # copied by stackadmin/browser_guard.py's Host check
    "HttpRequest.get_host": (HttpRequest.get_host, "02735c918f5ce9f1fdbf8acc4329e1a2169dd10548b6295e9c6edc2223cfaeea"),
    "HttpRequest._get_raw_host": (
        HttpRequest._get_raw_host,
        "49d5b852251e9afbd6067075e99533f3be32887c60710b6bff713018641571bb",
    ),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_django_code_the_api_handler_copies_is_unchanged(name):
    function, digest = PINNED[name]
    source = inspect.getsource(function)
    assert hashlib.sha256(source.encode()).hexdigest() == digest, (
        f"Django's {name} changed: review stackadmin/handler.py against it, then update the digest"
    )


def test_the_api_handler_builds_its_chain_from_api_middleware_and_leaves_the_setting_alone(settings):
    from stackadmin.handler import APIHandler

    full = list(settings.MIDDLEWARE)
    handler = APIHandler()
    assert settings.MIDDLEWARE == full
    chain = []
    link = handler._middleware_chain
    # Django wraps each middleware in an exception converter; `__wrapped__` is the middleware itself.
    while hasattr(getattr(link, "__wrapped__", link), "get_response"):
        middleware = getattr(link, "__wrapped__", link)
        chain.append(f"{type(middleware).__module__}.{type(middleware).__name__}")
        link = middleware.get_response
    assert chain == settings.API_MIDDLEWARE
