"""Request bodies on `/v1` (stackadmin/handler.py): the API key is checked before any of the body is read, every
body has a hard cap, announced or chunked (413 once it is passed, the connection then closed so the rest is not
read), and a chunked upload (no `Content-Length`) works.

How much of a refused body the server took is read off the client: the body is a generator, and how far it got
before the connection ended bounds what the server received (plus what the sockets' buffers hold)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.accounts import AUTH_CONFIG, make_user
from tests.support.live_server import LiveServer

MiB = 1024 * 1024
# What a refused body may still have taken from its generator: the limit plus the sockets' buffers on loopback.
SLACK = 32 * MiB
# Far more than any limit and any buffers: a server that reads it all took the whole of it.
TOTAL = 256 * MiB
UPLOAD_LIMIT = MiB  # the test servers' files.max_upload_bytes; an upload body may have 1 MiB of framing on top
FILES = "files:\n  max_upload_bytes: 1048576\n"
JSON_LIMIT = 32 * MiB  # DATA_UPLOAD_MAX_MEMORY_SIZE
BOUNDARY = "b0undary"
CONTENT_TYPES = {"/v1/files": f"multipart/form-data; boundary={BOUNDARY}", "/v1/prompts": "application/json"}


class Source:
    """A body of `total` bytes after `head`, sent as the client pulls it; `sent` counts what it pulled."""

    def __init__(self, total: int = TOTAL, head: bytes = b"") -> None:
        self.total = total
        self.head = head
        self.sent = 0

    def __iter__(self):
        yield self.head
        self.sent += len(self.head)
        block = b"x" * MiB
        while self.sent < self.total:
            yield block
            self.sent += len(block)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("bodies-auth"), str(config_file(tmp_path_factory, AUTH_CONFIG + FILES)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("bodies-open"), str(config_file(tmp_path_factory, FILES)))
    yield server
    server.stop()


def config_file(tmp_path_factory, text: str):
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    path.write_text(text)
    return path


def post(url: str, body, **headers: str) -> httpx.Response:
    return httpx.post(url, content=iter(body), headers=headers, timeout=120)


def multipart(parts: list[tuple[str, str | None, bytes]]) -> list[bytes]:
    """A multipart/form-data body (boundary `BOUNDARY`) in pieces: (field, filename or None, content) per part."""
    pieces = []
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        pieces.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode())
        pieces.extend(content[i : i + 64 * 1024] for i in range(0, len(content), 64 * 1024))
        pieces.append(b"\r\n")
    pieces.append(f"--{BOUNDARY}--\r\n".encode())
    return pieces


def test_without_a_valid_key_no_body_is_read_chunked_or_announced(auth_server):
    for path, content_type in CONTENT_TYPES.items():
        chunked = Source()
        response = post(auth_server.url + path, chunked, **{"content-type": content_type})
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert chunked.sent < SLACK, f"{path}: the client sent {chunked.sent} bytes before the 401"
    announced = Source()
    headers = {"content-type": CONTENT_TYPES["/v1/files"], "content-length": str(TOTAL)}
    response = post(auth_server.url + "/v1/files", announced, **headers)
    assert response.status_code == 401
    assert announced.sent < SLACK, f"the client sent {announced.sent} bytes before the 401"
    wrong_key = Source()
    headers = {"content-type": "application/json", "authorization": "Bearer " + "x" * 40}
    response = post(auth_server.url + "/v1/prompts", wrong_key, **headers)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Incorrect or revoked API key."
    assert wrong_key.sent < SLACK, f"the client sent {wrong_key.sent} bytes before the 401"


def test_a_chunked_upload_with_a_key_is_stored(auth_server):
    key = make_user(auth_server, "uploader")["key"]
    content = bytes(range(256)) * 1024  # 256 KiB: more than one read
    body = multipart([("purpose", None, b"assistants"), ("file", "notes.bin", content)])
    headers = {"authorization": f"Bearer {key}", "content-type": CONTENT_TYPES["/v1/files"]}
    response = post(auth_server.url + "/v1/files", body, **headers)
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == len(content)
    download = httpx.get(f"{auth_server.url}/v1/files/{response.json()['id']}/content", headers=headers)
    assert download.content == content


def test_a_chunked_body_over_the_limit_is_413_having_read_at_most_the_limit(open_server):
    for path, limit in (("/v1/files", UPLOAD_LIMIT + MiB), ("/v1/prompts", JSON_LIMIT)):
        source = Source(head=b'{"prompt": "')
        response = post(open_server.url + path, source, **{"content-type": CONTENT_TYPES[path]})
        assert response.status_code == 413, path
        assert response.json()["error"]["code"] == "payload_too_large"
        assert f"limit of {limit} bytes" in response.json()["error"]["message"]
        assert source.sent < limit + SLACK, f"{path}: the client sent {source.sent} bytes before the 413"


def test_a_chunked_json_body_under_the_limit_is_read_whole(open_server):
    body = [b'{"prompt": ', b'"chunked body"}']
    response = post(open_server.url + "/v1/prompts", body, **{"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["prompt"] == "chunked body"
