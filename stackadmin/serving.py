"""The HTTP protocol `stackadmin run` gives uvicorn: a graceful shutdown that answers, instead of dropping, the
requests clients send on connections they keep alive.

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
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.server import ServerState

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
