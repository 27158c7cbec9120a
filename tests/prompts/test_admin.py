"""Operators' prompt pages in the Django admin, going through the services."""

from __future__ import annotations

import pytest

from apps.prompts import selectors, services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


def test_changelist_lists_and_searches(admin_client):
    a = services.prompt_create(text="Summarise <b>{{ doc }}</b>", variables=["doc"])
    services.prompt_update(
        prompt_id=a.prompt_id, text="Summarise {{ doc }} briefly", variables=["doc"], version=1, set_as_default=False
    )
    b = services.prompt_create(text="Translate")
    page = admin_client.get("/admin/prompts/prompt/")
    assert page.status_code == 200
    html = page.content.decode()
    assert a.prompt_id in html
    assert b.prompt_id in html
    # prompt text is escaped
    assert "&lt;b&gt;" in html
    assert "<b>{{" not in html
    searched = admin_client.get("/admin/prompts/prompt/", {"q": "translate"}).content.decode()
    assert b.prompt_id in searched
    assert a.prompt_id not in searched


def test_change_page_shows_versions_and_sets_default(admin_client):
    p = services.prompt_create(text="one")
    services.prompt_update(prompt_id=p.prompt_id, text="two", version=1, message="second try")
    page = admin_client.get(f"/admin/prompts/prompt/{p.prompt_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Version 2 (default)" in html
    assert "Version 1" in html
    assert "second try" in html
    response = admin_client.post(f"/admin/prompts/prompt/{p.prompt_id}/change/", {"version": "1"})
    assert response.status_code == 302
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 1


def test_delete_asks_then_deletes(admin_client):
    p = services.prompt_create(text="doomed")
    confirm = admin_client.get(f"/admin/prompts/prompt/{p.prompt_id}/delete/")
    assert confirm.status_code == 200
    assert p.prompt_id in confirm.content.decode()
    assert admin_client.post(f"/admin/prompts/prompt/{p.prompt_id}/delete/").status_code == 302
    assert selectors.prompt_list().data == []


def test_admin_requires_staff(client, django_user_model):
    assert client.get("/admin/prompts/prompt/").status_code == 302
    user = django_user_model.objects.create_user("viewer", password="pw-123456789")
    client.force_login(user)
    assert client.get("/admin/prompts/prompt/").status_code == 302  # not staff: back to login


def test_change_page_shows_messages_and_settings(admin_client):
    p = services.prompt_create(
        messages=[
            {"role": "system", "content": "You are <b>{{ role }}</b>."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe this."},
                    {"type": "input_image", "image_url": "https://example.com/cat.png"},
                ],
            },
        ],
        variables=["role"],
        settings={"model": "gpt-5", "temperature": 0.3, "text": {"format": {"type": "json_object"}}},
    )
    services.prompt_update(prompt_id=p.prompt_id, text="plain text now", version=1)
    html = admin_client.get(f"/admin/prompts/prompt/{p.prompt_id}/change/").content.decode()
    v1 = html[html.index('id="version-1"') :]
    assert "<label>Message 1: system</label>" in v1
    assert "You are &lt;b&gt;{{ role }}&lt;/b&gt;." in v1
    assert "<label>Message 2: user</label>" in v1
    assert "Image: https://example.com/cat.png" in v1
    assert "<label>Model</label> <code>gpt-5</code>" in v1
    assert "<label>Temperature</label> <code>0.3</code>" in v1
    assert "&quot;type&quot;: &quot;json_object&quot;" in v1
    v2 = html[html.index('id="version-2"') : html.index('id="version-1"')]
    assert "plain text now" in v2
    assert "<label>Model settings</label> none" in v2
