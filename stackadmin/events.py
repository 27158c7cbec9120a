"""Change events for live pages: services publish, websocket consumers push them to open browsers.

Publishing never fails the write that caused it: the change is already stored, so a channel layer that is
down only costs live updates (logged), not data.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("stackadmin.events")


def publish(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "change.event", "event": event})
    except Exception:
        logger.warning("could not publish %s event to group %r", event.get("kind"), group, exc_info=True)


async def apublish(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, {"type": "change.event", "event": event})
    except Exception:
        logger.warning("could not publish %s event to group %r", event.get("kind"), group, exc_info=True)
