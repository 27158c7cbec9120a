"""The lean Django handler that serves `/v1` (the one place where stackadmin departs from Django for speed).

`APIHandler` is Django's `ASGIHandler` with these departures, each measured with `bench/api_handler.py` (prompt
get through the shared load script; figures in the README's "Speed machinery"):

1. **Its own middleware list** (`API_MIDDLEWARE`: the `/v1` error rewriter and API-key authentication). API clients
   send no cookies, so session, CSRF, auth and messages middleware would be sync-only hops that do nothing.
   Django builds a handler's chain from `settings.MIDDLEWARE` only, so `load_middleware` swaps that setting while
   the chain is built, once per process at import, before any request thread exists.
2. **A bounded pool of database threads instead of a thread per request.** Django runs each request in a
   `ThreadSensitiveContext` of its own, which starts a thread for the request's thread-sensitive work (sync views,
   ORM calls wrapped with `sync_to_async(thread_sensitive=True)`) and another to join it afterwards; the thread's
   connections (SQLite's too) are opened anew and held until the request ends, a stream or an upload included.
   Here every request's context sends that work to one `DatabaseThreads` pool per worker process
   (`STACKADMIN_API_THREADS`: 8 when a SQL store is on PostgreSQL, 1 when all are on SQLite): each call (a whole
   sync view, or a whole selector or service called from an async view) runs on a free thread, then hands the
   connections it used back to their pool where the alias wants that (`CONN_MAX_AGE=0`: PostgreSQL through
   psycopg's pool), as `request_finished` does after a Django request; SQLite connections stay open on their
   thread. Consequences: **up to that many calls of a worker's `/v1` requests do database work at once; a slow one
   (a long query, a wait for a row lock) holds up only its own request**, until every thread is busy with one
   (then calls wait for a free thread, in order). With one thread (SQLite), a slow call holds up every other
   request's database work in that process, as one writer at a time is all SQLite takes anyway; more threads
   there cost each write CPU under load (every connection keeps its own page cache). Between its calls (while a
   body arrives, a model answers, a stream is sent) a request holds no thread and no connection. Two calls of one
   request may run on different threads, which is safe because no `/v1` code keeps a transaction or per-thread
   state from one call to the next. Work sent to `thread_sensitive=False` threads (blocking I/O such as uploads
   and KV reads and writes) does not go through the pool.
3. **Signals and `response.close()` inline** instead of a hop to a thread each: `request_finished` has no
   connection to close on the event loop's thread, since each database call handed its own back (2).
4. **Early refusals, and a body read only once it is wanted**: a request for a host not in `ALLOWED_HOSTS`
   (which Django's own handler refuses only when something calls `get_host()`), one from a foreign web page, and a
   body that is not JSON where JSON is expected are refused first (`stackadmin/browser_guard.py`); then the API key
   is checked from the headers before any of the body is read (a 401 without one), a body announced larger than
   the endpoint's limit is a 413 before any of it is read, and `read_body` (Django's, counting) stops at the limit,
   announced or not (chunked): a 413 then, having read at most the limit. A refusal closes the connection
   (`Connection: close`), so the server does not drain the unread rest of the body. A chunked body, once read, is
   given the `Content-Length` it turned out to have, which Django's multipart parser needs (it parses nothing
   without one).

`tests/test_handler.py` pins the Django code this copies (`ASGIHandler.__call__`, `ASGIHandler.handle`,
`ASGIHandler.read_body`, `BaseHandler.load_middleware`): when a Django upgrade changes them, that test fails and this
module must be reviewed against the new code before the pinned digests are updated.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted, RequestDataTooBig
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import HttpResponse
from django.urls import set_script_prefix

from asgiref.sync import ThreadSensitiveContext

from apps.accounts.middleware import SCOPE_PRINCIPAL, api_principal
from apps.core.errors import AuthenticationError, PayloadTooLargeError
from apps.core.http import error_response
from stackadmin import browser_guard
from stackadmin.browser_guard import header, is_file_upload


def too_large(size: int | None, limit: int) -> HttpResponse:
    shown = f"{size} bytes" if size is not None else "The request body"
    return error_response(PayloadTooLargeError(f"{shown} is over this endpoint's limit of {limit} bytes."))


def is_preflight(scope) -> bool:
    """A CORS preflight: browsers send it without credentials, so it is left to the middleware chain."""
    return scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method") is not None


def announce_length(scope, body_file) -> None:
    """Give a body that came without `Content-Length` (chunked) the length it turned out to have."""
    size = body_file.seek(0, os.SEEK_END)
    body_file.seek(0)
    if size and header(scope, b"content-length") is None:
        scope["headers"] = [*scope.get("headers", ()), (b"content-length", str(size).encode())]


def handing_back(fn, /, *args, **kwargs):
    """`fn`, then the database connections it used handed back to their pools where their alias wants that
    (`CONN_MAX_AGE=0`), as Django's `request_finished` does after a request."""
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


class DatabaseThreads(ThreadPoolExecutor):
    """Departure 2: the threads that run `/v1` requests' thread-sensitive work, one call at a time each.

    asgiref documents an executor given to `ThreadSensitiveContext` as one thread for one context; this one is
    shared by every request and has several, on purpose: a call is a unit of its own (see the module docstring)."""

    def __init__(self, size: int) -> None:
        super().__init__(max_workers=size, thread_name_prefix="v1-db")

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(handing_back, fn, *args, **kwargs)


class APIMiddlewareMixin:
    """Departure 1: the handler's chain is built from `API_MIDDLEWARE` (Django reads `MIDDLEWARE` only)."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class APIHandler(APIMiddlewareMixin, ASGIHandler):
    """Django's ASGI handler for `/v1`, with the departures listed in this module's docstring.

    Every thread hop Django makes per request (the per-request thread, the signals, `response.close()`) waits for
    the GIL behind the busy event loop, which dominated API latency; the database work a request needs goes to a
    pool of long-lived threads instead.
    """

    def __init__(self):
        super().__init__()
        self.database_threads = DatabaseThreads(settings.STACKADMIN_API_THREADS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"the API handler serves HTTP only, not {scope['type']}")
        async with ThreadSensitiveContext(executor=self.database_threads):
            await self.handle(scope, receive, send)

    def body_limit(self, scope) -> int:
        """The largest body a /v1 request may send: a file upload up to the configured size (plus its multipart
        framing), anything else up to DATA_UPLOAD_MAX_MEMORY_SIZE."""
        if is_file_upload(scope):
            return settings.STACKADMIN_RUN_CONFIG.files.max_upload_bytes + 1024 * 1024
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    async def authenticate(self, scope) -> HttpResponse | None:
        """The 401 of a request whose headers name no active API key (where one is needed); else None, the
        principal left in the scope for `APIKeyMiddleware`."""
        if is_preflight(scope):
            return None
        try:
            scope[SCOPE_PRINCIPAL] = await api_principal(
                path=scope["path"], authorization=header(scope, b"authorization")
            )
        except AuthenticationError as exc:
            return error_response(exc)
        return None

    async def receive_body(self, scope, receive, send):
        """The body, once the request is authenticated and only up to the endpoint's limit; None when the request
        was refused (the refusal sent) or the client went away."""
        limit = self.body_limit(scope)
        length = header(scope, b"content-length")
        refusal = browser_guard.refusal(scope) or await self.authenticate(scope)
        if refusal is None and length is not None and length.isdigit() and int(length) > limit:
            refusal = too_large(int(length), limit)
        if refusal is None:
            try:
                body_file = await self.read_body(receive, limit=limit)
            except RequestAborted:
                return None
            except RequestDataTooBig:
                refusal = too_large(None, limit)
            else:
                announce_length(scope, body_file)
                return body_file
        refusal["Connection"] = "close"  # do not drain the rest of a body we will not read
        await self.send_response(browser_guard.readable_by_listed_page(scope, refusal), send)
        return None

    async def read_body(self, receive, limit: int | None = None):
        """Django's `read_body`, stopping with `RequestDataTooBig` once the body is over `limit` bytes (having
        written at most `limit` of them)."""
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            if "body" in message:
                size += len(message["body"])
                if limit is not None and size > limit:
                    body_file.close()
                    raise RequestDataTooBig()
                body_file.write(message["body"])
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    async def handle(self, scope, receive, send):
        body_file = await self.receive_body(scope, receive, send)
        if body_file is None:
            signals.request_finished.send(sender=self.__class__)  # as for a request Django saw
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
            signals.request_finished.send(sender=self.__class__)
        else:
            response.close()  # sends request_finished
        body_file.close()
