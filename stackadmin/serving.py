"""How `stackadmin run` serves with uvicorn: a graceful shutdown that answers, or promptly refuses, what clients
send after SIGTERM instead of dropping it.

Uvicorn's shutdown (SIGTERM; each worker process receives its own) stops accepting connections, lets the requests
in flight finish, their responses saying `Connection: close`, and closes every idle keep-alive connection at once.
A client that sends its next request on such a connection as it closes sees the connection drop without an answer
and cannot tell whether the request was served; when it then connects again, a single server refuses it, but with
several workers the listening socket stays open in uvicorn's supervisor until the last worker has exited, so the
new connection waits unanswered until then and is reset.

Here a worker with requests still in flight keeps its idle keep-alive connections open while it finishes them,
and a request that arrives on one is answered at once with a 503 (`server_shutting_down`) and `Connection: close`
(by `stackadmin.asgi`, which reads `shutting_down()`). When nothing is left in flight, the remaining idle
connections are closed as uvicorn would have closed them; a worker with nothing in flight closes them at once, as
uvicorn does, since it exits at once. The keep-alive timeout still closes a connection left idle meanwhile.

With several workers, `Supervisor` closes its copy of the listening socket as soon as it is told to stop, so that
the socket is gone once every worker has closed its own at the start of its shutdown: a new connection is then
refused at once (and a client retries elsewhere) instead of waiting for the supervisor to exit.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("stackadmin.serving")

_DRAIN_POLL_SECONDS = 0.1  # how often uvicorn's own shutdown looks whether connections and tasks are done
_state: dict[str, asyncio.Task | None] = {"closer": None}


def shutting_down() -> bool:
    """True in a worker process once its graceful shutdown has begun."""
    return _state["closer"] is not None


class DrainingHTTPProtocol(AutoHTTPProtocol):
    """Uvicorn's HTTP protocol (httptools, else h11) whose idle connections stay open while requests are in
    flight at shutdown."""

    def shutdown(self) -> None:
        """Called by uvicorn on every open connection when the shutdown begins."""
        if _state["closer"] is None:
            in_flight = len(self.server_state.tasks)
            logger.info(
                "shutting down: %d request(s) in flight will finish; requests arriving meanwhile on open "
                "connections get a 503",
                in_flight,
            )
            _state["closer"] = asyncio.get_running_loop().create_task(_close_idle_once_drained(self.server_state))
        if self.is_idle() and self.server_state.tasks:
            return  # stays open until the requests in flight are done (or the keep-alive timeout)
        super().shutdown()

    def is_idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def close_if_idle(self) -> None:
        if self.is_idle():
            super().shutdown()


async def _close_idle_once_drained(state: ServerState) -> None:
    while state.tasks:
        await asyncio.sleep(_DRAIN_POLL_SECONDS)
    for connection in list(state.connections):
        if isinstance(connection, DrainingHTTPProtocol):
            connection.close_if_idle()


class Supervisor(Multiprocess):
    """uvicorn's supervisor of several worker processes, which stops listening as soon as it is told to stop."""

    def handle_int(self) -> None:
        self.stop_listening()
        super().handle_int()

    def handle_term(self) -> None:
        self.stop_listening()
        super().handle_term()

    def stop_listening(self) -> None:
        for sock in self.sockets:
            sock.close()


def serve(app: str, **options) -> None:
    """`uvicorn.run(app, **options)` (without its reload mode) with this module's protocol and supervisor."""
    config = uvicorn.Config(app, http="stackadmin.serving:DrainingHTTPProtocol", **options)
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Supervisor(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:  # Ctrl-C, re-raised by uvicorn once its graceful shutdown is over
        pass
    if config.workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)
