"""Change events for live pages: services publish, websocket consumers push them to open browsers.

Publishing never fails, and never delays, the write that caused it: the change is already stored, so a channel
layer that is down only costs live updates (logged), not data. A service running on a worker thread of the
server hands the event to the server's event loop and returns at once; elsewhere (management commands, tests)
it is sent before returning.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("apps.core.events")
_pending: set[asyncio.Task] = set()  # fire-and-forget sends, kept referenced until they finish


async def _send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": "change.event", "event": event})
    except Exception:
        logger.warning("could not publish %s event to group %r", event.get("kind"), group, exc_info=True)


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop this worker thread was called from by `sync_to_async`, if any (asgiref records it)."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def _start(group: str, event: dict) -> None:
    task = asyncio.get_running_loop().create_task(_send(group, event))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def publish(group: str, event: dict) -> None:
    loop = _server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_start, group, event)
        return
    async_to_sync(_send)(group, event)
