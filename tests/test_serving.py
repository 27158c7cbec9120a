"""Graceful shutdown of a live `stackadmin run` (stackadmin/serving.py): after SIGTERM, requests in flight finish,
and a request a client sends on a connection it kept alive gets a prompt 503 with `Connection: close` instead of
a dropped connection."""

from __future__ import annotations

import http.client
import json
import signal
import socket

from tests.support.live_server import LiveServer
from tests.support.waiting import wait_until

BOUNDARY = "held-back"
UPLOAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="held.txt"\r\n'
    "Content-Type: text/plain\r\n\r\nsent after SIGTERM\r\n"
    f"--{BOUNDARY}--\r\n"
).encode()


def start_held_upload(server: LiveServer) -> socket.socket:
    """An upload whose body the test holds back: once the server has said `100 Continue` it is reading the body,
    a request in flight until the test sends it."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(UPLOAD)}\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue\r\n")
    return sock


def kept_alive(server: LiveServer, path: str) -> http.client.HTTPConnection:
    """A connection that has served one request and is kept open for the next."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("connection") != "close"
    return connection


def test_a_request_on_a_kept_alive_connection_after_sigterm_gets_a_prompt_503(start_server):
    # uvicorn's own "Shutting down" (at info level) is logged just before it turns to the open connections.
    server = start_server(env={"STACKADMIN_SERVER_LOG_LEVEL": "info"})
    api = kept_alive(server, "/v1/health")
    page = kept_alive(server, "/dashboard/login/")
    upload = start_held_upload(server)

    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: "Shutting down" in server.log_path.read_text(), what="the server's shutdown to begin")

    api.request("GET", "/v1/health")
    refused = api.getresponse()
    assert refused.status == 503
    assert refused.getheader("connection") == "close"
    assert json.loads(refused.read())["error"]["code"] == "server_shutting_down"
    page.request("GET", "/dashboard/login/")
    refused_page = page.getresponse()
    assert refused_page.status == 503
    assert refused_page.getheader("connection") == "close"
    assert server.process.poll() is None  # answered while the shutdown waits for the upload in flight

    upload.sendall(UPLOAD)
    stored = http.client.HTTPResponse(upload)
    stored.begin()
    assert stored.status == 200
    assert json.loads(stored.read())["filename"] == "held.txt"
    assert server.process.wait(timeout=30) is not None


def refuses_connections(server: LiveServer) -> bool:
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_with_several_workers_new_connections_are_refused_once_the_workers_stop_listening(start_server):
    """Each worker closes its listening socket when its shutdown begins; the supervisor must not keep the socket
    open for the connections it will never accept (they would wait for it to exit, then be reset)."""
    server = start_server(workers=2)
    upload = start_held_upload(server)  # keeps its worker, and so the server, running

    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: refuses_connections(server), timeout=30, what="new connections to be refused")
    assert server.process.poll() is None

    upload.sendall(UPLOAD)
    stored = http.client.HTTPResponse(upload)
    stored.begin()
    assert stored.status == 200
    assert server.process.wait(timeout=30) is not None
