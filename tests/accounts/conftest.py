from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.accounts import AUTH_CONFIG, make_users
from tests.support.live_server import LiveServer


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("auth-home")
    config = home / "run.yaml"
    config.write_text(AUTH_CONFIG)
    server = LiveServer(home, str(config))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def users(auth_server):
    """alice (team red), bob (team blue), carol (teams red and green: shares red with alice)."""
    return make_users(
        auth_server, {"alice": {"teams": ["red"]}, "bob": {"teams": ["blue"]}, "carol": {"teams": ["red", "green"]}}
    )


# ------------------------------------------------------------------------------------------ a module's own users
# A module that asks for these declares `USERS` (username -> access attributes) and a `server` fixture.
@pytest.fixture(scope="module")
def keys(request, server) -> dict[str, str]:
    """An API key for each of the module's `USERS`, made on its `server`."""
    return {name: made["key"] for name, made in make_users(server, request.module.USERS).items()}


@pytest.fixture(scope="module")
def sdk(server, keys) -> dict[str, openai.OpenAI]:
    return {
        name: openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=30)
        for name, key in keys.items()
    }


@pytest.fixture(scope="module")
def http(server, keys) -> dict[str, httpx.Client]:
    clients = {
        name: httpx.Client(base_url=server.url + "/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
        for name, key in keys.items()
    }
    yield clients
    for client in clients.values():
        client.close()
