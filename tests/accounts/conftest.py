from __future__ import annotations

import json

import pytest

AUTH_CONFIG = """
server:
  auth:
    enabled: true
"""

MAKE_USER = """
import json, sys
from django.contrib.auth import get_user_model
from apps.accounts import services
spec = json.loads(sys.argv[-1]) if False else json.loads('''{spec}''')
user, _ = get_user_model().objects.get_or_create(username=spec["username"])
services.access_attributes_set(user=user, **spec["attributes"])
key, raw = services.api_key_create(user=user, name="tests")
print(json.dumps({{"key": raw, "id": key.pk}}))
"""


def make_user(server, username: str, **attributes: list[str]) -> dict:
    """Create (or reuse) a user with access attributes on `server` and return a fresh API key for them."""
    spec = json.dumps({"username": username, "attributes": attributes})
    out = server.manage("shell", "-c", MAKE_USER.format(spec=spec))
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    from tests.conftest import LiveServer

    home = tmp_path_factory.mktemp("auth-home")
    config = home / "run.yaml"
    config.write_text(AUTH_CONFIG)
    server = LiveServer(home, str(config))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def users(auth_server):
    """alice (team red), bob (team blue), carol (teams red and green: shares red with alice)."""
    return {
        "alice": make_user(auth_server, "alice", teams=["red"]),
        "bob": make_user(auth_server, "bob", teams=["blue"]),
        "carol": make_user(auth_server, "carol", teams=["red", "green"]),
    }
