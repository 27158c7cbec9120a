"""Websocket routes of every app, gathered for the ASGI application."""

from __future__ import annotations

websocket_urlpatterns: list = []
