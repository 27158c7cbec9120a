"""The lean `/v1` handler (stackadmin/handler.py): the Django code it copies, and what one slow request holds up.

These digests pin the Django code it copies or relies on. When a Django upgrade changes one of them this test
fails on purpose: compare the new Django source with `stackadmin/handler.py` (what `handle` does per request, how
`load_middleware` reads `MIDDLEWARE`, what `__call__` wraps requests in, how `read_body` spools a body) or
`stackadmin/browser_guard.py` (how `get_host` checks the host), carry any fix over, then update the digest here.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import inspect

from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest

import pytest

from tests.support.conversations import user
from tests.support.inference import raw_http
from tests.support.postgres import connect, postgres_database, run_config
from tests.support.waiting import wait_until

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


def waiting_on_a_lock(database: str) -> bool:
    with connect(database) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
        return conn.execute(query, (database,)).fetchone()[0] > 0


@pytest.mark.postgres
def test_a_request_blocked_in_the_database_holds_up_no_other_request(start_server):
    """One worker; a metadata update waits on a row lock this test holds (as behind any long transaction on that
    conversation). Other requests' database work, on other conversations, must go on meanwhile."""
    with postgres_database() as database:
        server = start_server(run_config(database), workers=1)
        with raw_http(server) as http:
            blocked = http.post("/conversations", json={}).json()["id"]
            other = http.post("/conversations", json={"items": [user("hello")]}).json()["id"]
        with concurrent.futures.ThreadPoolExecutor(3) as pool, raw_http(server) as http:
            with connect(database, autocommit=False) as holder:
                holder.execute("SELECT 1 FROM openai_conversations WHERE public_id = %s FOR UPDATE", (blocked,))
                update = pool.submit(http.post, f"/conversations/{blocked}", json={"metadata": {"k": "v"}})
                wait_until(lambda: waiting_on_a_lock(database), what="the update to wait for the row lock")
                read = pool.submit(http.get, f"/conversations/{other}/items")
                write = pool.submit(http.post, f"/conversations/{other}/items", json={"items": [user("more")]})
                # A deadline for the failure to show, not a timing: before the fix they waited for the lock.
                done, _ = concurrent.futures.wait([read, write], timeout=20)
                assert not update.done()  # the lock was held throughout
            # The transaction ended with `holder`: the update goes on.
            assert done == {read, write}, "a request waited behind the one blocked in the database"
            assert read.result().status_code == 200
            assert write.result().status_code == 200
            assert update.result().status_code == 200


@pytest.mark.postgres
def test_each_database_call_hands_its_connection_back(start_server):
    """Concurrent requests on one worker whose PostgreSQL pool holds a single connection: their calls run on
    several threads, and each hands the connection back as it ends (one kept would leave the next call, on another
    thread, waiting for it until the pool's timeout, then a 503)."""
    with postgres_database() as database:
        config = run_config(database, backend_options=", pool_size: 1, max_overflow: 0")
        server = start_server(config, workers=1)

        def conversation(n: int) -> list[int]:
            with raw_http(server) as http:
                created = http.post("/conversations", json={"items": [user(str(n))]})
                if created.status_code != 200:
                    return [created.status_code]
                conversation_id = created.json()["id"]
                added = http.post(f"/conversations/{conversation_id}/items", json={"items": [user("more")]})
                listed = http.get(f"/conversations/{conversation_id}/items")
                return [created.status_code, added.status_code, listed.status_code]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(conversation, range(16)))
    assert statuses == [[200, 200, 200]] * 16
