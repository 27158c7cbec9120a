"""The dashboard's labels, version delete, history and Activity page, over the real prompts services: every view as a
page and as the htmx partial its target expects, protected labels under the access policy, and what the history
records of each action."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from apps.accounts import services as accounts
from apps.core.principal import Principal
from apps.prompts import selectors, services
from apps.prompts.config import parse_prompts
from tests.support.dashboard import activity_rows, assert_page, assert_partial, flat, hx, text_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def protected(settings):
    """`production` is a protected label (the run config's `prompts.protected_labels`)."""
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG, prompts=parse_prompts({"protected_labels": ["production"]})
    )


def three_versions(**kwargs) -> str:
    """A prompt with versions 1-3; the default stays on 1."""
    pid = services.prompt_create(text="one", **kwargs).prompt_id
    services.prompt_update(prompt_id=pid, text="two", version=1, set_as_default=False, **kwargs)
    services.prompt_update(prompt_id=pid, text="three", version=2, set_as_default=False, **kwargs)
    return pid


def history(pid: str) -> list[tuple]:
    """The prompt's history, oldest first: (action, actor, via, label, version, from_version, message)."""
    entries = selectors.prompt_history(prompt_id=pid, limit=100).data
    return [(e.action, e.actor, e.via, e.label, e.version, e.from_version, e.message) for e in reversed(entries)]


def labels(pid: str) -> dict[str, int]:
    return {entry["label"]: entry["version"] for entry in selectors.prompt_label_list(prompt_id=pid)}


def timeline_text(body: str) -> list[str]:
    """The timeline's rows as plain text, newest first: versions ("Version 3 …") and history entries."""
    region = body[body.index('id="version-list"') : body.index('id="version-view"')]
    return [flat(row) for row in re.findall(r'<li class="timeline-(?:item|event)[^"]*"[^>]*>(.*?)</li>', region, re.S)]


# ------------------------------------------------------------------------------------------ the timeline
def test_the_timeline_interleaves_the_history_with_the_versions(web, protected):
    pid = three_versions()
    services.prompt_label_move(prompt_id=pid, label="staging", version=2, message="try <b>it</b>")
    services.prompt_label_move(prompt_id=pid, label="production", version=2)
    services.prompt_label_move(prompt_id=pid, label="staging", version=3)
    services.prompt_version_set_default(prompt_id=pid, version=3, message="ship")
    services.prompt_label_remove(prompt_id=pid, label="staging")
    page = assert_page(web.get(f"/dashboard/{pid}/"), "version-list", "version-status", "version-delete-confirm")
    rows = timeline_text(page)
    assert [row.split(" ·")[0] for row in rows] == [
        "anonymous removed staging from v3",
        "anonymous moved default v1 → v3 ship",
        "anonymous moved staging v2 → v3",
        "anonymous moved production (protected) (new) → v2",
        "anonymous moved staging (new) → v2 try &lt;b&gt;it&lt;/b&gt;",
        "Version 3 default latest",
        "Version 2 production (protected)",
        "Version 1",
    ]
    assert "“ship”" not in page  # quotes come from CSS
    assert '<q class="history-message">ship</q>' in page
    assert "try &lt;b&gt;it&lt;/b&gt;" in page
    assert "<b>it</b>" not in page
    # Protected labels carry a lock and say so.
    assert page.count('class="badge badge-label badge-protected"') == 2  # in the entry and on version 2
    assert 'title="Protected: moving it needs the promote permission"' in page
    # The whole history is in Activity.
    assert f'href="/dashboard/activity/?prompt={pid}"' in page


def test_a_deleted_version_stays_in_the_timeline_as_history(web):
    pid = three_versions()
    services.prompt_version_delete(prompt_id=pid, version=2, message="bad idea")
    rows = timeline_text(text_of(web.get(f"/dashboard/{pid}/")))
    assert [row.split(" ·")[0] for row in rows] == [
        "anonymous deleted version 2 bad idea",
        "Version 3 latest",
        "anonymous saved version 2",
        "Version 1 default",
    ]


def test_the_version_shows_its_labels_and_a_form_to_move_one_here(web, protected):
    pid = three_versions()
    services.prompt_label_move(prompt_id=pid, label="beta", version=2)
    status = assert_partial(web.get(f"/dashboard/{pid}/?version=2", headers=hx("version-status")), "version-status")
    assert f'action="/dashboard/{pid}/labels/beta/remove/"' in status
    assert f'href="/dashboard/{pid}/versions/2/delete/"' in status
    assert 'data-live="' in status
    form = assert_partial(web.get(f"/dashboard/{pid}/?version=2", headers=hx("label-form")), "label-form")
    assert "data-live" not in form  # what the user types there is not swapped away by live updates
    assert f'action="/dashboard/{pid}/versions/2/labels/"' in form
    assert 'list="label-suggestions"' in form
    assert re.findall(r'<option value="([^"]+)">', form) == ["beta", "production"]  # default has its own button
    assert '<button type="submit" name="promote" value="production"' in form
    # Where production already points, there is nothing to promote.
    services.prompt_label_move(prompt_id=pid, label="production", version=2)
    assert 'name="promote"' not in text_of(web.get(f"/dashboard/{pid}/?version=2", headers=hx("label-form")))
    status = text_of(web.get(f"/dashboard/{pid}/?version=2", headers=hx("version-status")))
    assert f'action="/dashboard/{pid}/labels/production/remove/"' in status


# ------------------------------------------------------------------------------------------ moving labels
def test_move_a_label_as_a_plain_form(web):
    pid = three_versions()
    response = web.post(f"/dashboard/{pid}/versions/2/labels/", {"label": "staging", "message": "try it"})
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{pid}/?version=2"
    assert labels(pid) == {"default": 1, "latest": 3, "staging": 2}
    assert "&#x27;staging&#x27; now points at version 2." in text_of(web.get(response["Location"]))
    assert history(pid)[-1] == ("label_moved", "alice", "dashboard", "staging", 2, None, "try it")


def test_move_a_label_with_htmx_swaps_the_form_the_status_and_the_timeline(web):
    pid = three_versions()
    web.post(f"/dashboard/{pid}/versions/2/labels/", {"label": "staging"})
    response = web.post(
        f"/dashboard/{pid}/versions/3/labels/", {"label": "staging", "message": "m"}, headers=hx("label-form")
    )
    body = assert_partial(response, "label-form")
    assert 'value="m"' not in body  # done: the form is empty again
    assert re.search(r'<div id="version-status"[^>]*hx-swap-oob="true"', body)
    assert re.search(r'<section id="version-list"[^>]*hx-swap-oob="true"', body)
    assert "&#x27;staging&#x27; now points at version 3." in body
    assert labels(pid)["staging"] == 3
    assert "alice moved staging v2 → v3" in flat(body)


def test_the_promote_button_moves_its_protected_label(web, protected):
    pid = three_versions(principal=Principal("alice"))
    response = web.post(f"/dashboard/{pid}/versions/3/labels/", {"promote": "production", "label": "", "message": "go"})
    assert response.status_code == 302
    assert labels(pid)["production"] == 3
    assert history(pid)[-1] == ("label_moved", "alice", "dashboard", "production", 3, None, "go")


@pytest.mark.parametrize(
    ("label", "status", "says"),
    [
        ("Bad Label!", 400, "Labels are 1-36 characters"),
        ("", 400, "Labels are 1-36 characters"),
        ("latest", 400, "&#x27;latest&#x27; is computed"),
    ],
)
def test_a_refused_label_is_said_at_the_form_and_changes_nothing(web, label, status, says):
    pid = three_versions()
    before = history(pid)
    page = assert_page(web.post(f"/dashboard/{pid}/versions/2/labels/", {"label": label}), status=status)
    assert says in page
    assert 'id="label-error"' in page
    partial = web.post(f"/dashboard/{pid}/versions/2/labels/", {"label": label}, headers=hx("label-form"))
    assert says in assert_partial(partial, "label-form", status=status)
    assert labels(pid) == {"default": 1, "latest": 3}
    assert history(pid) == before


def test_moving_a_label_to_a_missing_version_or_prompt(web):
    pid = three_versions()
    missing = web.post(f"/dashboard/{pid}/versions/9/labels/", {"label": "x"}, headers=hx("label-form"))
    assert "has no version 9" in assert_partial(missing, "label-form", status=404)
    ghost = "pmpt_" + "0" * 48
    assert web.post(f"/dashboard/{ghost}/versions/1/labels/", {"label": "x"}).status_code == 404
    assert web.post("/dashboard/not-an-id/versions/1/labels/", {"label": "x"}).status_code == 404
    assert web.get(f"/dashboard/{pid}/versions/2/labels/").status_code == 405


def test_remove_a_label(web):
    pid = three_versions()
    services.prompt_label_move(prompt_id=pid, label="beta", version=2)
    services.prompt_label_move(prompt_id=pid, label="gamma", version=2)
    plain = web.post(f"/dashboard/{pid}/labels/beta/remove/", {"shown": "2"})
    assert plain.status_code == 302
    assert plain["Location"] == f"/dashboard/{pid}/?version=2"
    swapped = web.post(f"/dashboard/{pid}/labels/gamma/remove/", {"shown": "2"}, headers=hx("version-status"))
    assert "Removed the label &#x27;gamma&#x27;." in assert_partial(swapped, "version-status")
    assert labels(pid) == {"default": 1, "latest": 3}
    assert [h[:4] for h in history(pid)[-2:]] == [
        ("label_removed", "alice", "dashboard", "beta"),
        ("label_removed", "alice", "dashboard", "gamma"),
    ]
    # A label that is not there, and the default, are refused at the form.
    gone = web.post(f"/dashboard/{pid}/labels/gamma/remove/", {"shown": "2"}, headers=hx("version-status"))
    assert "has no label &#x27;gamma&#x27;" in assert_partial(gone, "version-status", status=404)
    default = assert_page(web.post(f"/dashboard/{pid}/labels/default/remove/", {"shown": "1"}), status=409)
    assert "cannot be removed" in default


# ------------------------------------------------------------------------------------------ deleting a version
def test_delete_a_version_after_a_confirmation(web):
    pid = three_versions()
    page = assert_page(web.get(f"/dashboard/{pid}/versions/2/delete/"), "version-delete-confirm")
    assert f"Delete version 2 of <code>{pid}</code>?" in page
    assert "two" in page  # its text, quoted
    partial = assert_partial(
        web.get(f"/dashboard/{pid}/versions/2/delete/", headers=hx("version-delete-confirm")), "version-delete-confirm"
    )
    assert f'hx-post="/dashboard/{pid}/versions/2/delete/"' in partial
    response = web.post(f"/dashboard/{pid}/versions/2/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{pid}/"
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=pid)] == [1, 3]
    assert f"Deleted version 2 of {pid}." in text_of(web.get(response["Location"]))
    assert history(pid)[-1][:5] == ("version_deleted", "alice", "dashboard", None, 2)
    # Its page is now a "deleted" notice; through htmx the tab moves to the prompt.
    assert "was deleted" in text_of(web.get(f"/dashboard/{pid}/versions/2/delete/"))
    swapped = web.post(f"/dashboard/{pid}/versions/3/delete/", headers=hx("version-delete-confirm"))
    assert swapped["HX-Redirect"] == f"/dashboard/{pid}/"


def test_a_version_a_label_points_at_is_not_deleted(web):
    pid = three_versions()
    services.prompt_label_move(prompt_id=pid, label="staging", version=2)
    page = assert_page(web.post(f"/dashboard/{pid}/versions/2/delete/"), "version-delete-confirm", status=409)
    assert "cannot be deleted while &#x27;staging&#x27; points at it" in page
    partial = web.post(f"/dashboard/{pid}/versions/1/delete/", headers=hx("version-delete-confirm"))
    body = assert_partial(partial, "version-delete-confirm", status=409)
    assert "cannot be deleted while &#x27;default&#x27; points at it" in body
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=pid)] == [1, 2, 3]
    assert history(pid)[-1][0] == "label_moved"


# ------------------------------------------------------------------------------------------ protected labels
@pytest.fixture
def team(settings, protected, django_user_model):
    """With authentication on: alice owns the prompt, carol shares her team (may update, not promote), dave shares
    it too and has the `admin` role (may promote)."""
    settings.STACKADMIN_AUTH_ENABLED = True
    users = {}
    for name, attributes in (
        ("alice", {"teams": ["red"]}),
        ("carol", {"teams": ["red"]}),
        ("dave", {"teams": ["red"], "roles": ["admin"]}),
    ):
        users[name] = django_user_model.objects.create_user(name, password="pw-123456789")
        accounts.access_attributes_set(user=users[name], **attributes)
    return users


def test_a_protected_label_is_refused_to_a_non_promoter_and_recorded(client, team):
    pid = three_versions(principal=Principal("alice", {"teams": ["red"]}))
    client.force_login(team["carol"])
    # carol may move other labels (she may update the prompt)...
    assert client.post(f"/dashboard/{pid}/versions/2/labels/", {"label": "staging"}).status_code == 302
    # ...but not the protected one: a 403 saying why, at the form, with her text kept.
    plain = client.post(f"/dashboard/{pid}/versions/2/labels/", {"label": "production", "message": "please"})
    page = assert_page(plain, "label-form", status=403)
    assert "&#x27;production&#x27; is a protected label" in page
    assert "needs the &#x27;promote&#x27; permission" in page
    assert 'value="please"' in page
    swapped = client.post(f"/dashboard/{pid}/versions/3/labels/", {"promote": "production"}, headers=hx("label-form"))
    body = assert_partial(swapped, "label-form", status=403)
    assert "is a protected label" in body
    # The timeline, swapped with it, shows the refusal.
    assert re.search(r'<section id="version-list"[^>]*hx-swap-oob="true"', body)
    assert "carol was refused moving production" in flat(body)
    assert "production" not in labels(pid)
    assert [h for h in history(pid) if h[0] == "move_refused"] == [
        ("move_refused", "carol", "dashboard", "production", 2, None, None),
        ("move_refused", "carol", "dashboard", "production", 3, None, None),
    ]
    # Removing a protected label needs promote too.
    services.prompt_label_move(prompt_id=pid, label="production", version=2)
    removal = client.post(f"/dashboard/{pid}/labels/production/remove/", {"shown": "2"})
    assert "is a protected label" in assert_page(removal, status=403)
    assert labels(pid)["production"] == 2


@pytest.mark.parametrize("user", ["alice", "dave"])
def test_the_owner_and_an_admin_may_promote(client, team, user):
    pid = three_versions(principal=Principal("alice", {"teams": ["red"]}))
    client.force_login(team[user])
    response = client.post(f"/dashboard/{pid}/versions/3/labels/", {"promote": "production"})
    assert response.status_code == 302
    assert labels(pid)["production"] == 3
    assert history(pid)[-1][:4] == ("label_moved", user, "dashboard", "production")


def test_another_teams_prompt_is_missing_to_the_label_views(client, team, django_user_model):
    pid = three_versions(principal=Principal("alice", {"teams": ["red"]}))
    bob = django_user_model.objects.create_user("bob", password="pw-123456789")
    accounts.access_attributes_set(user=bob, teams=["blue"])
    client.force_login(bob)
    for method, url in [
        ("post", f"/dashboard/{pid}/versions/2/labels/"),
        ("post", f"/dashboard/{pid}/labels/staging/remove/"),
        ("get", f"/dashboard/{pid}/versions/2/delete/"),
        ("post", f"/dashboard/{pid}/versions/2/delete/"),
    ]:
        assert getattr(client, method)(url, {"label": "staging"}).status_code == 404, url
    assert pid not in text_of(client.get("/dashboard/activity/"))
    assert [h[0] for h in history(pid)] == ["created", "version_created", "version_created"]


# ------------------------------------------------------------------------------------------ activity
def test_activity_page_and_partial(web):
    first = services.prompt_create(text="First <prompt>", principal=Principal("alice"))
    second = three_versions(created_by="bob")
    services.prompt_label_move(prompt_id=second, label="staging", version=2, message="try it")
    services.prompt_delete(prompt_id=first.prompt_id, principal=Principal("alice"))
    page = assert_page(web.get("/dashboard/activity/"), "history-list", "filter-action", "filter-label")
    assert '<a href="/dashboard/activity/" aria-current="page">Activity</a>' in page
    rows = activity_rows(page)
    assert len(rows) == 6
    assert rows[0].startswith(f"{first.prompt_id} deleted alice deleted the prompt")
    assert rows[1].startswith(f"one {second} anonymous moved staging (new) → v2")
    assert rows[1].endswith("try it")
    assert rows[-1].startswith(f"{first.prompt_id} deleted alice created the prompt with version 1")
    # A prompt that exists is linked; a deleted one is not.
    assert f'href="/dashboard/{second}/"' in page
    assert f'href="/dashboard/{first.prompt_id}/"' not in page
    partial = assert_partial(web.get("/dashboard/activity/", headers=hx("history-list")), "history-list")
    assert 'data-live="*"' in partial
    assert 'hx-trigger="refresh"' in partial
    assert "filter-action" not in partial


def test_activity_filters(web):
    pid = three_versions(created_by="bob")
    services.prompt_label_move(prompt_id=pid, label="staging", version=2, principal=Principal("carol"))
    services.prompt_label_move(prompt_id=pid, label="production", version=3, principal=Principal("carol"))
    other = services.prompt_create(text="other").prompt_id

    def shown(**query) -> list[str]:
        response = web.get("/dashboard/activity/", query, headers=hx("history-list"))
        return activity_rows(assert_partial(response, "history-list"))

    assert [r.split(" ·")[0].split(f"{pid} ")[-1] for r in shown(action="label_moved")] == [
        "carol moved production (new) → v3",
        "carol moved staging (new) → v2",
    ]
    assert len(shown(label="staging")) == 1
    assert len(shown(actor="carol")) == 2
    assert len(shown(actor="bob")) == 3
    assert len(shown(prompt=other)) == 1
    assert len(shown(actor="carol", label="production")) == 1
    now = datetime.now(UTC)
    assert len(shown(since=now.replace(year=now.year - 1).strftime("%Y-%m-%dT%H:%M"))) == 6
    assert shown(since=now.replace(year=now.year + 1).strftime("%Y-%m-%d")) == []
    assert shown(until="2000-01-01T00:00") == []
    empty = text_of(web.get("/dashboard/activity/", {"actor": "nobody"}))
    assert "Nothing matches these filters" in empty
    # The form keeps what was asked.
    page = text_of(web.get("/dashboard/activity/", {"action": "label_moved", "actor": "carol"}))
    assert '<option value="label_moved" selected>' in page
    assert 'id="filter-actor" type="text" name="actor" value="carol"' in page


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"action": "renamed"}, "Select a valid choice"),
        ({"label": "Bad Label"}, "Labels are 1-36 characters"),
        ({"prompt": "pmpt_nope"}, "Prompt ids are"),
        ({"since": "yesterday"}, "Enter a valid date/time"),
        ({"since": "2026-01-02", "until": "2026-01-01"}, "must be after"),
        ({"after": "phe_unknown"}, "no history entry"),
    ],
)
def test_activity_filters_that_cannot_be_applied(web, query, says):
    services.prompt_create(text="something")
    page = assert_page(web.get("/dashboard/activity/", query), "history-list", status=400)
    assert says in page
    assert "history-item" not in page
    assert says in assert_partial(
        web.get("/dashboard/activity/", query, headers=hx("history-list")), "history-list", 400
    )


def test_activity_pages_fifty_at_a_time(web):
    pid = services.prompt_create(text="v1").prompt_id
    for number in range(2, 61):
        services.prompt_update(prompt_id=pid, text=f"v{number}", version=number - 1)
    first = text_of(web.get("/dashboard/activity/", {"action": "version_created"}))
    assert len(activity_rows(first)) == 50
    assert "saved version 60" in activity_rows(first)[0]
    older = re.search(r'<a rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "action=version_created" in older
    second = web.get(f"/dashboard/activity/?{older}", headers=hx("history-list"))
    rows = activity_rows(assert_partial(second, "history-list"))
    assert len(rows) == 9
    assert "saved version 2" in rows[-1]
    assert 'rel="next"' not in text_of(second)
    assert "← Newest" in text_of(second)


def test_activity_queries_do_not_grow_with_entries(web, django_assert_num_queries):
    pid = three_versions()
    for number in range(20):
        services.prompt_label_move(prompt_id=pid, label=f"l{number}", version=2)
    web.get("/dashboard/activity/")
    with django_assert_num_queries(3):  # session, user, the user's access attributes: the history is in the KV store
        web.get("/dashboard/activity/")


def test_activity_needs_a_signed_in_user(client):
    response = client.get("/dashboard/activity/")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")
    assert client.get("/dashboard/activity/", headers=hx("history-list"))["HX-Redirect"].startswith("/dashboard/login/")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/dashboard/{pid}/versions/2/labels/"),
        ("post", "/dashboard/{pid}/labels/beta/remove/"),
        ("get", "/dashboard/{pid}/versions/2/delete/"),
        ("post", "/dashboard/{pid}/versions/2/delete/"),
    ],
)
def test_signed_out_users_change_nothing(client, method, url):
    pid = three_versions()
    services.prompt_label_move(prompt_id=pid, label="beta", version=2)
    response = getattr(client, method)(url.format(pid=pid), {"label": "gamma"})
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")
    assert labels(pid) == {"default": 1, "latest": 3, "beta": 2}
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=pid)] == [1, 2, 3]


def test_messages_and_names_are_escaped_in_the_history(web):
    pid = three_versions(created_by="<i>eve</i>")
    services.prompt_label_move(prompt_id=pid, label="beta", version=2, message="<script>alert(1)</script>")
    for response in (web.get(f"/dashboard/{pid}/"), web.get("/dashboard/activity/")):
        body = text_of(response)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<script>alert" not in body
        assert "<i>eve</i>" not in body


def test_imported_versions_are_in_the_history(web, tmp_path):
    from tests.support.prompt_archives import export_text, import_paths, populate, wipe_store

    text_id, _ = populate()
    archive = tmp_path / "prompts.json"
    archive.write_text(export_text())
    wipe_store()
    import_paths(archive)
    rows = activity_rows(text_of(web.get("/dashboard/activity/", {"action": "imported", "prompt": text_id})))
    # An imported entry's actor is the version's own author (only version 1 names one).
    assert [row.split(f"{text_id} ", 1)[1] for row in rows] == [
        f"{author} imported version {n} · via import imported from prompts.json"
        for author, n in (("anonymous", 3), ("anonymous", 2), ("ada", 1))
    ]
    assert "imported version 3" in flat(text_of(web.get(f"/dashboard/{text_id}/")))
