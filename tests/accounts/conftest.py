from __future__ import annotations

import json

import pytest

AUTH_CONFIG = """
server:
  auth:
    enabled: true
"""

MAKE_USERS = """
import json
from django.contrib.auth import get_user_model
from apps.accounts import services
keys = {{}}
for username, attributes in json.loads({specs}).items():
    user, _ = get_user_model().objects.get_or_create(username=username)
    services.access_attributes_set(user=user, **attributes)
    key, raw = services.api_key_create(user=user, name="tests")
    keys[username] = {{"key": raw, "id": key.pk}}
print(json.dumps(keys))
"""


def make_users(server, specs: dict[str, dict[str, list[str]]]) -> dict[str, dict]:
    """Create (or reuse) users with access attributes on `server` in one `manage.py shell`; a fresh API key for
    each: `{username: {"key", "id"}}`. Attribute values travel as a JSON string literal, so quotes, backslashes
    and any other character arrive exactly as given."""
    out = server.manage("shell", "-c", MAKE_USERS.format(specs=repr(json.dumps(specs))))
    return json.loads(out.strip().splitlines()[-1])


def make_user(server, username: str, **attributes: list[str]) -> dict:
    """Create (or reuse) a user with access attributes on `server` and return a fresh API key for them."""
    return make_users(server, {username: attributes})[username]


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
    return make_users(
        auth_server, {"alice": {"teams": ["red"]}, "bob": {"teams": ["blue"]}, "carol": {"teams": ["red", "green"]}}
    )
