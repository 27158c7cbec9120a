"""The dashboard's API keys page: full page and htmx partial, create shows the key once, revoke, isolation."""

from __future__ import annotations

import pytest

from apps.accounts import services
from apps.accounts.models import APIKey

pytestmark = pytest.mark.django_db


def test_login_required(client):
    response = client.get("/dashboard/keys/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_page_and_partial(client, alice):
    client.force_login(alice)
    page = client.get("/dashboard/keys/")
    assert page.status_code == 200
    assert b"<html" in page.content
    assert b'id="key-panel"' in page.content
    partial = client.get("/dashboard/keys/", headers={"HX-Request": "true"})
    assert b"<html" not in partial.content
    assert b'id="key-panel"' in partial.content


def test_create_shows_the_key_once_and_stores_only_its_hash(client, alice):
    client.force_login(alice)
    response = client.post("/dashboard/keys/", {"name": "<script>billing</script>"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    key = APIKey.objects.get(user=alice)
    raw = html.split('<code id="new-key">')[1].split("</code>")[0]
    assert raw.startswith("sk-sa-")
    assert key.key_hash == services.hash_key(raw)
    assert raw not in key.key_hash
    assert "&lt;script&gt;billing&lt;/script&gt;" in html
    assert "<script>billing" not in html
    assert raw not in client.get("/dashboard/keys/").content.decode()  # never shown again
    assert services.api_key_authenticate(raw).name == "alice"


def test_revoke_own_key_only(client, alice, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    bobs, _ = services.api_key_create(user=bob)
    mine, raw = services.api_key_create(user=alice)
    client.force_login(alice)
    assert client.post(f"/dashboard/keys/{bobs.pk}/revoke/").status_code == 302
    bobs.refresh_from_db()
    assert bobs.revoked_at is None  # not alice's to revoke
    client.post(f"/dashboard/keys/{mine.pk}/revoke/")
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert services.api_key_authenticate(raw) is None
    assert bobs.prefix not in client.get("/dashboard/keys/").content.decode()


def test_forms_need_csrf(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/dashboard/keys/", {"name": "x"}).status_code == 403
