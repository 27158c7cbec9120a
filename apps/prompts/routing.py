from __future__ import annotations

from django.urls import path

from apps.prompts.consumers import PromptEventsConsumer

websocket_urlpatterns = [
    path("ws/prompts/", PromptEventsConsumer.as_asgi()),
]
