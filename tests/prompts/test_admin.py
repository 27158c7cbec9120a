"""Operators' prompt pages in the Django admin, going through the services as the operator: labels, protected
labels, and the read-only history."""

from __future__ import annotations

import re

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


# ------------------------------------------------------------------------------------------ labels and history
def _history(pid: str) -> list[tuple]:
    """(action, actor, via, label, version, from_version, message), oldest first."""
    entries = reversed(selectors.prompt_history(prompt_id=pid, limit=100).data)
    return [(e.action, e.actor, e.via, e.label, e.version, e.from_version, e.message) for e in entries]


def _two_versions(**kwargs) -> str:
    pid = services.prompt_create(text="one", **kwargs).prompt_id
    services.prompt_update(prompt_id=pid, text="two", version=1, set_as_default=False, **kwargs)
    return pid


def _labels(pid: str) -> dict[str, int]:
    return {entry["label"]: entry["version"] for entry in selectors.prompt_label_list(prompt_id=pid)}


def test_operators_move_and_remove_labels_recorded_as_themselves(admin_client):
    pid = _two_versions()
    page = admin_client.get(f"/admin/prompts/prompt/{pid}/change/").content.decode()
    assert 'name="action" value="move_label"' in page
    assert f'href="/admin/prompts/prompthistory/?prompt={pid}"' in page
    moved = admin_client.post(
        f"/admin/prompts/prompt/{pid}/change/",
        {"action": "move_label", "label": "staging", "version": "2", "message": "try it"},
        follow=True,
    )
    assert "The label &#x27;staging&#x27; of" in moved.content.decode()
    assert "Version 2 — staging" in moved.content.decode()
    admin_client.post(f"/admin/prompts/prompt/{pid}/change/", {"action": "set_default", "version": "2"})
    admin_client.post(f"/admin/prompts/prompt/{pid}/change/", {"action": "remove_label", "label": "staging"})
    assert _labels(pid) == {"default": 2, "latest": 2}
    bad = admin_client.post(
        f"/admin/prompts/prompt/{pid}/change/", {"action": "move_label", "label": "Bad!", "version": "1"}, follow=True
    )
    assert "Labels are 1-36 characters" in bad.content.decode()
    admin_client.post(f"/admin/prompts/prompt/{pid}/delete/")
    assert _history(pid)[2:] == [
        ("label_moved", "admin", "admin", "staging", 2, None, "try it"),
        ("default_moved", "admin", "admin", None, 2, 1, None),
        ("label_removed", "admin", "admin", "staging", None, 2, None),
        ("deleted", "admin", "admin", None, 2, None, None),
    ]


@pytest.fixture
def guarded(settings, django_user_model):
    """Authentication on, `production` protected; alice (team red) owns a prompt with two versions. Operators:
    ops (team blue, no role: sees everything, may not promote) and chief (the `admin` role: may promote)."""
    import dataclasses

    from apps.accounts import services as accounts
    from apps.core.principal import Principal
    from apps.prompts.config import parse_prompts

    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG, prompts=parse_prompts({"protected_labels": ["production"]})
    )
    staff = {}
    for name, attributes in (
        ("ops", {"teams": ["blue"]}),
        ("chief", {"roles": ["admin"]}),
        ("alice", {"teams": ["red"]}),
    ):
        staff[name] = django_user_model.objects.create_superuser(name, password="pw-123456789")
        accounts.access_attributes_set(user=staff[name], **attributes)
    return staff, _two_versions(principal=Principal("alice", {"teams": ["red"]}))


def test_a_protected_label_needs_promote_in_the_admin_too(client, guarded):
    staff, pid = guarded
    client.force_login(staff["ops"])
    # An operator sees and changes another team's prompt...
    assert pid in client.get("/admin/prompts/prompt/").content.decode()
    client.post(f"/admin/prompts/prompt/{pid}/change/", {"action": "move_label", "label": "staging", "version": "2"})
    assert _labels(pid)["staging"] == 2
    # ...but a protected label moves only with promote, which ops does not have as the user they are.
    refused = client.post(
        f"/admin/prompts/prompt/{pid}/change/",
        {"action": "move_label", "label": "production", "version": "2", "message": "now"},
        follow=True,
    )
    page = refused.content.decode()
    assert "&#x27;production&#x27; is a protected label" in page
    assert "Protected labels (production) move only for users with" in page
    assert "production" not in _labels(pid)
    assert _history(pid)[-1] == ("move_refused", "ops", "admin", "production", 2, None, None)


@pytest.mark.parametrize("user", ["chief", "alice"])
def test_an_admin_or_the_owner_promotes_in_the_admin(client, guarded, user):
    staff, pid = guarded
    client.force_login(staff[user])
    client.post(f"/admin/prompts/prompt/{pid}/change/", {"action": "move_label", "label": "production", "version": "2"})
    assert _labels(pid)["production"] == 2
    assert _history(pid)[-1][:4] == ("label_moved", user, "admin", "production")


def test_the_history_is_listed_read_only(admin_client):
    pid = _two_versions(created_by="bob")
    services.prompt_label_move(prompt_id=pid, label="beta", version=2, message="<b>why</b>")
    gone = services.prompt_create(text="short-lived").prompt_id
    services.prompt_delete(prompt_id=gone)
    index = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/prompts/prompthistory/"' in index
    assert "/admin/prompts/prompthistory/add/" not in index
    page = admin_client.get("/admin/prompts/prompthistory/").content.decode()
    rows = re.findall(r'<tr class="history-(\w+)">', page)
    assert rows == ["deleted", "created", "label_moved", "version_created", "created"]
    assert f'href="/admin/prompts/prompt/{pid}/change/"' in page
    assert f"{gone} (deleted)" in page
    assert f'href="/admin/prompts/prompt/{gone}/change/"' not in page
    assert "&lt;b&gt;why&lt;/b&gt;" in page
    assert "<b>why</b>" not in page
    filtered = admin_client.get("/admin/prompts/prompthistory/", {"action": "label_moved", "prompt": pid})
    assert re.findall(r'<tr class="history-(\w+)">', filtered.content.decode()) == ["label_moved"]
    assert "Prompt ids are" in admin_client.get("/admin/prompts/prompthistory/", {"prompt": "x"}).content.decode()
    # Nothing adds, changes or deletes an entry.
    entry = selectors.prompt_history(prompt_id=pid).data[0].id
    for url in ("add/", f"{entry}/change/", f"{entry}/delete/"):
        assert admin_client.get(f"/admin/prompts/prompthistory/{url}").status_code == 404
        assert admin_client.post(f"/admin/prompts/prompthistory/{url}").status_code == 404
    assert len(selectors.prompt_history(prompt_id=pid).data) == 3


def test_the_history_needs_its_view_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("clerk", password="pw-123456789", is_staff=True)
    client.force_login(user)
    assert client.get("/admin/prompts/prompthistory/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_prompthistory"))
    assert client.get("/admin/prompts/prompthistory/").status_code == 200
