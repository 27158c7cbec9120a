"""Users with API keys and access attributes on a live server, for the authentication and access-policy tests."""

from __future__ import annotations

import json
import re

import httpx

AUTH_CONFIG = """
server:
  auth:
    enabled: true
"""

# The fake upstream's model: every response the access tests create names it.
MODEL = "fake-model"

_MAKE_USERS = """
import json
import re

import httpx
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
    out = server.manage("shell", "-c", _MAKE_USERS.format(specs=repr(json.dumps(specs))))
    return json.loads(out.strip().splitlines()[-1])


def make_user(server, username: str, **attributes: list[str]) -> dict:
    """Create (or reuse) a user with access attributes on `server` and return a fresh API key for them."""
    return make_users(server, {username: attributes})[username]


_MAKE_PEOPLE = """
import json
from django.contrib.auth import get_user_model
from apps.accounts import services
keys = {{}}
for username, spec in json.loads({specs}).items():
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(spec["password"])
    user.is_staff = user.is_superuser = spec.get("superuser", False)
    user.save()
    services.access_attributes_set(user=user, **spec.get("attributes", {{}}))
    key, raw = services.api_key_create(user=user, name="tests")
    keys[username] = raw
print(json.dumps(keys))
"""


def make_people(server, specs: dict[str, dict]) -> dict[str, str]:
    """Users who sign in too: `{username: {"password", "attributes"?, "superuser"?}}` (a superuser works in the
    admin); each gets a fresh API key: `{username: key}`."""
    out = server.manage("shell", "-c", _MAKE_PEOPLE.format(specs=repr(json.dumps(specs))))
    return json.loads(out.strip().splitlines()[-1])


def signed_in(server, username: str, password: str, *, login: str = "/dashboard/login/") -> httpx.Client:
    """A client signed in through a login form (the dashboard's or the admin's), as a browser would; its POSTs
    carry the CSRF token as htmx does (`X-CSRFToken`)."""
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    page = client.get(login)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(login, data={"username": username, "password": password, "csrfmiddlewaretoken": token})
    assert response.status_code == 302, response.text[:500]
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client


def message(text: str) -> dict:
    """A user message as a Responses or Conversations input item."""
    return {"type": "message", "role": "user", "content": text}
