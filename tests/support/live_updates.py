"""Listening to the dashboard's live updates: in-process over ASGI, or over real websockets to a live server whose
workers share events through Redis."""

from __future__ import annotations

import json
import re
import time

import httpx
from asgiref.testing import ApplicationCommunicator

from tests.support.services import REDIS


def redis_events_config(namespace: str) -> str:
    """A run config whose prompts live in Redis (shared by worker processes) and whose live-update events go
    through Redis too (`server.channel_layer`)."""
    return f"""
storage:
  backends:
    shared: {{type: kv_redis, host: {REDIS["host"]}, port: {REDIS["port"]}}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
  stores:
    prompts: {{backend: shared, namespace: {namespace}}}
    metadata: {{backend: shared, namespace: {namespace}_registry}}
server:
  channel_layer: {{backend: shared}}
"""


class Socket(ApplicationCommunicator):
    """A websocket client speaking ASGI to the application (channels' own communicator needs daphne)."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        super().__init__(application, scope)

    async def connect(self) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return (await self.receive_output(5))["type"] == "websocket.accept"

    async def receive_json_from(self, timeout: float = 5) -> dict:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def send_json_to(self, data: dict) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


def dashboard_session(server) -> str:
    """Sign in through the dashboard's login form, as a browser would; returns the session id."""
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        page = client.get("/dashboard/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = client.post(
            "/dashboard/login/",
            data={"username": "admin", "password": server.admin_password, "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, response.text[:500]
        assert response.headers["location"] == "/dashboard/", response.text[:500]
        return client.cookies["sessionid"]


def received(sockets, prompt_ids: set[str], expected: int, timeout: float = 10) -> list[list[tuple]]:
    """Per (websockets client) socket, the (kind, prompt_id, version) events about `prompt_ids`, until each has
    `expected` or the deadline passes."""
    seen: list[list[tuple]] = [[] for _ in sockets]
    deadline = time.monotonic() + timeout
    for index, socket in enumerate(sockets):
        while len(seen[index]) < expected and time.monotonic() < deadline:
            try:
                event = json.loads(socket.recv(timeout=max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                break
            if event.get("prompt_id") in prompt_ids:  # other test servers may share this Redis
                seen[index].append((event["kind"], event["prompt_id"], event.get("version")))
    return seen
