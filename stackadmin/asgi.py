"""The ASGI application: HTTP (Django) and websockets (channels).

HTTP is split by path. `/v1` requests go to the lean handler of `stackadmin/handler.py` (its own middleware list,
database work on a pool of threads; its module docstring lists every departure from Django and what it costs).
Every other path (dashboard, admin, static files) gets Django's own handler and the full `MIDDLEWARE` stack. A
worker whose shutdown has begun answers whatever request still reaches it with a 503 (`stackadmin/serving.py`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")

import django

django.setup(set_prefix=False)

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from asgiref.sync import ThreadSensitiveContext  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.core.errors import ServerShuttingDownError  # noqa: E402
from apps.core.http import error_response  # noqa: E402
from stackadmin.handler import APIHandler  # noqa: E402
from stackadmin.observability import mark_worker_dead, observed  # noqa: E402
from stackadmin.routing import websocket_urlpatterns  # noqa: E402
from stackadmin.serving import shutting_down  # noqa: E402

logger = logging.getLogger("stackadmin.asgi")
pages_app = ASGIStaticFilesHandler(ASGIHandler())
api_app = APIHandler()


async def http_app(scope, receive, send):
    path = scope.get("path", "")
    api = path == "/v1" or path.startswith("/v1/")
    if shutting_down():
        await refuse_while_shutting_down(api, send)
    elif api:
        await api_app(scope, receive, send)
    else:
        await pages_app(scope, receive, send)


async def refuse_while_shutting_down(api: bool, send) -> None:
    """A request that arrived on a kept-alive connection after this worker began shutting down: a prompt 503 that
    closes the connection, so the client retries elsewhere (`stackadmin/serving.py`). Its body is not read."""
    message = "The server is shutting down; send the request again."
    if api:
        response = error_response(ServerShuttingDownError(message))
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Connection"] = "close"
    await api_app.send_response(response, send)


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


def sweep_abandoned_uploads() -> None:
    """Remove the uploads a killed worker of this machine left staged (a worker killed outright has no shutdown of
    its own; uvicorn starts another in its place, or the server is started again). Parts of live workers stay."""
    from apps.files.disk import sweep_incoming

    try:
        removed = sweep_incoming()
    except OSError:
        logger.exception("could not sweep abandoned uploads")
        return
    if removed:
        logger.info("removed %d upload(s) abandoned by a process that died", len(removed))


def task_context() -> ThreadSensitiveContext:
    """Where a task's database work runs: the `/v1` handler's threads, handing connections back as requests do."""
    return ThreadSensitiveContext(executor=api_app.database_threads)


async def lifespan_app(scope, receive, send):
    """Uvicorn's lifespan: at startup, remove abandoned uploads, warm up and start running tasks (background
    responses; apps/core/tasks.py); at shutdown, once the last request has finished, stop claiming tasks, commit
    every queued store write and close the connections to the model servers."""
    from apps.core.tasks import start_task_runner, stop_task_runner
    from apps.inference.registry import close_registry
    from apps.storage.write_queue import drain_all

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            sweep_abandoned_uploads()
            warm_up()
            start_task_runner(asyncio.get_running_loop(), task_context)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(stop_task_runner)
            await asyncio.to_thread(drain_all)
            await close_registry()
            mark_worker_dead()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "lifespan": lifespan_app,
        "http": observed(http_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
