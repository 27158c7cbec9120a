"""Replays against a candidate in-process: a run config whose model provider goes through the recorder (or to a
fake model server that is running), and stored responses of a prompt shaped as the responses service stores
them, for the ones a test needs a past for (an answer the model server would no longer give, a slow request)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from django.utils import timezone

import yaml

from apps.core.principal import Principal
from apps.responses.models import StoredResponse
from stackadmin.config import parse_config
from tests.support.inference import provider_yaml
from tests.support.recording import DIR_ENV, MODE_ENV, UPSTREAM_CLASS

T = TypeVar("T")


def use_model_server(settings, monkeypatch, tmp_path: Path, *, url: str, mode: str, recordings: Path, usage=None):
    """Point this process's run config at a model provider (`fake-model`, `alias-model`) through the recorder in
    `mode`, with a fresh prompts store and the given `usage` section."""
    monkeypatch.setenv(MODE_ENV, mode)
    monkeypatch.setenv(DIR_ENV, str(recordings))
    data = yaml.safe_load(provider_yaml(url))
    # The second provider is switched off by an environment variable the config file loader substitutes.
    data["providers"]["inference"] = [p for p in data["providers"]["inference"] if p["provider_id"] == "fake"]
    data["storage"] = {
        "backends": {
            "kv_default": {"type": "kv_sqlite", "db_path": str(tmp_path / "kv.db")},
            "sql_default": {"type": "sql_sqlite", "db_path": ":memory:"},
        }
    }
    data["usage"] = usage or {}
    settings.STACKADMIN_UPSTREAM_CLASS = UPSTREAM_CLASS
    settings.STACKADMIN_RUN_CONFIG = parse_config(data, source="tests", home=str(tmp_path))


def message(role: str, text: str) -> dict:
    kind = "input_text" if role == "user" else "output_text"
    return {
        "type": "message",
        "role": role,
        "content": [{"type": kind, "text": text}],
        "id": f"msg_{secrets.token_hex(8)}",
    }


def store_response(
    prompt_id: str,
    *,
    version: int,
    variables: dict,
    text: str,
    answer: str,
    model: str = "fake-model",
    owner: Principal | None = None,
    labels: str = "|default|",
    created_at: datetime | None = None,
    tokens: tuple[int, int] = (7, 3),
) -> StoredResponse:
    """A completed response made with `prompt={id, version, variables}` and input `text`, as the service stores
    one (the parts a replay reads)."""
    response_id = f"resp_{secrets.token_hex(24)}"
    output = {**message("assistant", answer), "status": "completed"}
    row = StoredResponse(
        public_id=response_id,
        created_at=created_at or timezone.now(),
        model=model,
        status="completed",
        response={
            "id": response_id,
            "object": "response",
            "status": "completed",
            "model": model,
            "output": [output],
            "prompt": {"id": prompt_id, "version": str(version), "variables": variables},
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
        },
        input_items=[message("user", text)],
        messages=[],
        prompt_id=prompt_id,
        prompt_version=version,
        prompt_labels=labels,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        latency_ms=100,
    ).stamp(owner)
    row.save()
    return row


async def poll(read: Callable[[], Awaitable[T]], *, timeout: float = 20, what: str = "") -> T:
    """The first truthy value of the awaitable `read()` (a database read through sync_to_async), asked again
    until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.01)
