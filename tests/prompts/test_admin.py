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
