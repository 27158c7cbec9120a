"""Live updates for open dashboard pages: prompt change events, pushed to signed-in browsers."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.accounts.services import principal_for_user
from apps.core import metrics
from apps.core.access import allowed, read_predicate
from apps.core.errors import StackAdminError
from apps.prompts import selectors
from apps.prompts.services import EVENTS_GROUP

# Application close code for "sign in first" (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401


class PromptEventsConsumer(AsyncJsonWebsocketConsumer):
    """Joins the `prompts` group and forwards each `change.event` as JSON: `{"kind", "prompt_id", "version"?}`.

    Events carry ids only, never prompt text: pages fetch what changed through the views, which apply the
    access policy. Events about prompts the user may not read are not forwarded; a deletion is checked against
    the owner its event carries (the prompt is gone), and the owner is not passed on.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Closing before accepting rejects the handshake (HTTP 403).
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.principal = await database_sync_to_async(principal_for_user)(user)
        self.sees_everything = read_predicate(self.principal, "prompt").op == "true"
        await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        await self.accept()
        self.counted = True
        metrics.live_update_connection(+1)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):  # a refused handshake was never counted
            metrics.live_update_connection(-1)
        await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """Pages have nothing to say; anything they send is ignored."""

    async def change_event(self, message: dict) -> None:
        event = dict(message["event"])
        owner = event.pop("owner", None) or {}
        if event.get("kind") == "deleted":
            visible = self.sees_everything or allowed(
                self.principal,
                "read",
                "prompt",
                event.get("prompt_id") or "",
                owner=owner.get("principal") or "",
                owner_attributes=owner.get("attributes"),
            )
        else:
            visible = await self._may_read(event.get("prompt_id"))
        if visible:
            await self.send_json(event)

    async def _may_read(self, prompt_id: str | None) -> bool:
        if self.sees_everything:
            return True
        try:
            await sync_to_async(selectors.prompt_get, thread_sensitive=False)(
                prompt_id=prompt_id, principal=self.principal
            )
        except StackAdminError:
            return False
        return True
