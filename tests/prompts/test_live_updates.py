"""Live updates: the websocket consumer behind the dashboard, in-process through the real ASGI application, and
across two worker processes of a real server sharing events through Redis."""

from __future__ import annotations

import asyncio
import contextlib

from django.test import Client

import httpx
import pytest
from asgiref.sync import sync_to_async

from apps.accounts import services as accounts
from apps.core.principal import Principal
from apps.prompts import services
from tests.support.live_updates import Socket, dashboard_session, received, redis_events_config
from tests.support.names import unique
from tests.support.services import REDIS

ORIGIN = (b"origin", b"http://testserver")


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _socket(headers: list[tuple[bytes, bytes]]) -> tuple[Socket, bool]:
    from stackadmin.asgi import application

    communicator = Socket(application, "/ws/prompts/", headers)
    return communicator, await communicator.connect()


async def _events(communicator: Socket, count: int) -> list[dict]:
    return [await communicator.receive_json_from(timeout=5) for _ in range(count)]


@pytest.fixture
async def signed_in_cookie(django_user_model):
    user = await django_user_model.objects.acreate(username=unique("viewer"))
    return await sync_to_async(_session_cookie)(user)


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
@pytest.mark.usefixtures("prompts_backend")
async def test_signed_in_pages_receive_every_change(signed_in_cookie):
    communicator, connected = await _socket([ORIGIN, (b"cookie", signed_in_cookie)])
    assert connected
    try:
        p = await sync_to_async(services.prompt_create)(text="Hi {{ x }}", variables=["x"])
        await sync_to_async(services.prompt_update)(prompt_id=p.prompt_id, text="Ho", version=1, set_as_default=False)
        await sync_to_async(services.prompt_version_set_default)(prompt_id=p.prompt_id, version=2)
        await sync_to_async(services.prompt_delete)(prompt_id=p.prompt_id)
        events = await _events(communicator, 4)
        assert [(e["kind"], e["prompt_id"], e.get("version")) for e in events] == [
            ("created", p.prompt_id, 1),
            ("version_created", p.prompt_id, 2),
            ("default_changed", p.prompt_id, 2),
            ("deleted", p.prompt_id, None),
        ]
        assert all("prompt" not in e for e in events)  # ids only: text goes through the access-checked views
        # Whatever the page sends is ignored, and the socket stays open.
        await communicator.send_json_to({"hello": "server"})
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


@pytestmark_db
@pytest.mark.usefixtures("prompts_backend")
async def test_label_moves_version_deletes_and_refusals_reach_open_pages(settings, signed_in_cookie):
    from dataclasses import replace

    from apps.core.errors import PermissionDeniedError
    from apps.prompts.config import parse_prompts

    settings.STACKADMIN_RUN_CONFIG = replace(
        settings.STACKADMIN_RUN_CONFIG, prompts=parse_prompts({"protected_labels": ["production"]})
    )
    settings.STACKADMIN_AUTH_ENABLED = True  # so that a refusal can happen: carol is not the owner
    p = await sync_to_async(services.prompt_create)(text="one")
    await sync_to_async(services.prompt_update)(prompt_id=p.prompt_id, text="two", version=1, set_as_default=False)
    communicator, connected = await _socket([ORIGIN, (b"cookie", signed_in_cookie)])
    assert connected
    try:
        pid = p.prompt_id
        await sync_to_async(services.prompt_label_move)(prompt_id=pid, label="staging", version=2)
        await sync_to_async(services.prompt_label_remove)(prompt_id=pid, label="staging")
        await sync_to_async(services.prompt_version_delete)(prompt_id=pid, version=2)
        with pytest.raises(PermissionDeniedError):
            carol = Principal("carol", {"teams": ["red"]})
            await sync_to_async(services.prompt_label_move)(
                prompt_id=pid, label="production", version=1, principal=carol
            )
        events = await _events(communicator, 4)
        assert [(e["kind"], e["prompt_id"], e.get("label"), e.get("version")) for e in events] == [
            ("label_moved", pid, "staging", 2),
            ("label_removed", pid, "staging", None),
            ("version_deleted", pid, None, 2),
            ("move_refused", pid, "production", None),
        ]
    finally:
        await communicator.disconnect()


@pytestmark_db
async def test_signed_out_sockets_are_refused():
    _, connected = await _socket([ORIGIN])
    assert not connected
    _, connected = await _socket([ORIGIN, (b"cookie", b"sessionid=forged")])
    assert not connected


@pytestmark_db
async def test_other_origins_are_refused(signed_in_cookie):
    _, connected = await _socket([(b"origin", b"http://evil.example"), (b"cookie", signed_in_cookie)])
    assert not connected


@pytestmark_db
@pytest.mark.usefixtures("prompts_backend")
async def test_events_about_prompts_the_user_cannot_read_are_not_sent(settings, django_user_model):
    settings.STACKADMIN_AUTH_ENABLED = True
    bob = await django_user_model.objects.acreate(username="bob")
    await sync_to_async(accounts.access_attributes_set)(user=bob, teams=["blue"])
    communicator, connected = await _socket([ORIGIN, (b"cookie", await sync_to_async(_session_cookie)(bob))])
    assert connected
    try:
        red = Principal("alice", {"teams": ["red"]})
        blue = Principal("dave", {"teams": ["blue"]})
        hidden = await sync_to_async(services.prompt_create)(text="red only", principal=red)
        shared = await sync_to_async(services.prompt_create)(text="blue team", principal=blue)
        await sync_to_async(services.prompt_delete)(prompt_id=hidden.prompt_id, principal=red)
        (created,) = await _events(communicator, 1)
        assert (created["kind"], created["prompt_id"]) == ("created", shared.prompt_id)
        # Not a word about red's prompt, not even that it existed and was deleted; the shared one's deletion comes.
        await sync_to_async(services.prompt_delete)(prompt_id=shared.prompt_id, principal=blue)
        (deleted,) = await _events(communicator, 1)
        assert (deleted["kind"], deleted["prompt_id"]) == ("deleted", shared.prompt_id)
        assert "owner" not in deleted
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()


# ------------------------------------------------------------------------------------------ two workers, Redis
@pytest.mark.redis
def test_live_updates_reach_every_worker_through_redis(start_server, redis_namespace):
    from websockets.sync.client import connect

    server = start_server(redis_events_config(redis_namespace), workers=2)
    session = dashboard_session(server)
    ws_url = server.url.replace("http://", "ws://") + "/ws/prompts/"
    headers = {"Cookie": f"sessionid={session}", "Origin": server.url}
    with contextlib.ExitStack() as stack:
        # Each connection lands on whichever worker accepts it; with eight, both workers hold some.
        sockets = [stack.enter_context(connect(ws_url, additional_headers=headers, open_timeout=10)) for _ in range(8)]
        api = server.url + "/v1/prompts"
        created = []
        # New HTTP connections for every write, so that the writes, too, are spread over the workers.
        for i in range(4):
            response = httpx.post(api, json={"prompt": f"p{i} {{{{ x }}}}", "variables": ["x"]})
            response.raise_for_status()
            created.append(response.json()["prompt_id"])
        httpx.put(f"{api}/{created[0]}", json={"prompt": "v2", "version": 1}).raise_for_status()
        expected = [("created", pid, 1) for pid in created] + [("version_created", created[0], 2)]
        for seen in received(sockets, set(created), len(expected)):
            assert sorted(seen) == sorted(expected)

        # An event published by another process (here: this test) through the same Redis reaches every socket,
        # whichever worker holds it: proof that each worker's consumers listen on Redis, not in memory.
        from channels_redis.core import RedisChannelLayer

        layer = RedisChannelLayer(hosts=[f"redis://{REDIS['host']}:{REDIS['port']}/0"], prefix="stackadmin:events")
        marker = "pmpt_" + "f" * 48
        asyncio.run(
            layer.group_send(
                services.EVENTS_GROUP,
                {"type": "change.event", "event": {"kind": "deleted", "prompt_id": marker}},
            )
        )
        for seen in received(sockets, {marker}, 1):
            assert seen == [("deleted", marker, None)]
