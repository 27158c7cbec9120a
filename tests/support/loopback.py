"""An ASGI app served by uvicorn on a loopback port, in a background thread of the test process: how the fakes of
the outside world (model server, search provider, MCP server) run beside the code that calls them."""

from __future__ import annotations

import json
import threading
from typing import Any, Self

from tests.support.waiting import wait_until


async def read_body(receive) -> bytes:
    """The whole body of an ASGI request, however many messages it came in."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def send_json(send, status: int, payload: Any = None, raw: bytes | None = None) -> None:
    """A JSON answer (or `raw` bytes under the JSON content type, for a fake that answers garbage)."""
    data = raw if raw is not None else json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


class LoopbackServer:
    """`app` on `127.0.0.1:port` once started; `what` names it in the error a server that never came up raises.
    Other keyword arguments go to `uvicorn.Config` (a fake without startup work turns the lifespan off)."""

    def __init__(self, app, port: int, *, what: str, thread_name: str, **config: Any) -> None:
        import uvicorn

        self.what = what
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", **config))
        self.thread = threading.Thread(target=self.server.run, name=thread_name, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        try:
            wait_until(lambda: self.server.started or not self.thread.is_alive(), timeout=10)
        except TimeoutError:
            raise RuntimeError(f"{self.what} did not start") from None
        if not self.server.started:
            raise RuntimeError(f"{self.what} did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
