"""Websocket routes of every app, gathered for the ASGI application."""

from __future__ import annotations

from apps.prompts.routing import websocket_urlpatterns as prompts_websockets

websocket_urlpatterns: list = [*prompts_websockets]
