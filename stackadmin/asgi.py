"""The ASGI application: HTTP (Django) and websockets (channels).

HTTP is split by path. `/v1` requests go to a Django handler built with `API_MIDDLEWARE`: API clients send no
cookies, so the session, CSRF, auth and message middleware (each a sync-only hop under ASGI) would only slow
them down. Every other path (dashboard, admin, static files) gets the full `MIDDLEWARE` stack.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core import signals  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import get_resolver, set_script_prefix  # noqa: E402

from asgiref.sync import sync_to_async  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.core.errors import PayloadTooLargeError  # noqa: E402
from apps.core.http import error_response  # noqa: E402
from stackadmin.routing import websocket_urlpatterns  # noqa: E402


def too_large(size: int | None, limit: int) -> HttpResponse:
    shown = f"{size} bytes" if size is not None else "The request body"
    return error_response(PayloadTooLargeError(f"{shown} is over this endpoint's limit of {limit} bytes."))


class APIHandler(ASGIHandler):
    """Django's ASGI handler for `/v1`: the API's own middleware list, and no thread hops of its own.

    Django runs each request in a `ThreadSensitiveContext` (a fresh thread per request) and hops to a thread
    for the request signals and `response.close()`. Every such hop waits for the GIL behind the busy event loop,
    which dominated API latency. Here sync views share asgiref's one long-lived sync thread, and the signals
    and `close()` run inline, except when a database alias wants its connection handed back after each request
    (CONN_MAX_AGE=0, i.e. PostgreSQL through its pool): then `close()` (which sends `request_finished`) runs on
    that sync thread, where the connection lives. SQLite aliases keep their connections (CONN_MAX_AGE=None).
    """

    def __init__(self):
        super().__init__()
        self.recycle_connections = any(db.get("CONN_MAX_AGE", 0) is not None for db in settings.DATABASES.values())

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"the API handler serves HTTP only, not {scope['type']}")
        await self.handle(scope, receive, send)

    def body_limit(self, scope) -> int:
        """The largest body a /v1 request may send: a file upload up to the configured size (plus its multipart
        framing), anything else up to DATA_UPLOAD_MAX_MEMORY_SIZE."""
        if scope["path"].rstrip("/") == "/v1/files" and scope["method"] == "POST":
            return settings.STACKADMIN_RUN_CONFIG.files.max_upload_bytes + 1024 * 1024
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    async def handle(self, scope, receive, send):
        # Refuse an announced oversized body before receiving (and spooling) any of it.
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        limit = self.body_limit(scope)
        if length is not None and length.isdigit() and int(length) > limit:
            response = too_large(int(length), limit)
            await self.send_response(response, send)
            return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request():
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while we were sending
            return response

        # As Django does: a client that disconnects cancels the view (a stream stops pulling upstream).
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        worker = asyncio.create_task(process_request())
        await asyncio.wait([listener, worker], return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, worker):
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
            else:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, RequestAborted):
                    pass
        try:
            response = worker.result()
        except asyncio.CancelledError:
            finish = functools.partial(signals.request_finished.send, sender=self.__class__)
        else:
            finish = response.close
        if self.recycle_connections:
            await sync_to_async(finish)()
        else:
            finish()
        body_file.close()


pages_app = ASGIStaticFilesHandler(ASGIHandler())
api_app = APIHandler()


async def http_app(scope, receive, send):
    path = scope.get("path", "")
    if path == "/v1" or path.startswith("/v1/"):
        await api_app(scope, receive, send)
    else:
        await pages_app(scope, receive, send)


def warm_up() -> None:
    """Load the URL configuration (and with it every API module), then move everything alive into the permanent
    generation: the cyclic collector then stops re-scanning those ~100k objects, and its full collections, which
    paused requests for 50-110 ms, become short."""
    get_resolver()._populate()
    gc.collect()
    gc.freeze()
    # Blocking work runs on worker threads beside the event loop; a shorter GIL switch interval (default 5 ms)
    # stops one busy thread from holding every other request up for a whole interval.
    sys.setswitchinterval(0.001)


async def lifespan_app(scope, receive, send):
    """Uvicorn's lifespan: at shutdown, once the last request has finished, commit every queued store write and
    close the connections to the model servers."""
    from apps.inference.registry import close_registry
    from apps.inference.write_queue import drain_all

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            warm_up()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(drain_all)
            await close_registry()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "lifespan": lifespan_app,
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
