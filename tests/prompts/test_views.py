"""Dashboard views over the real prompts services: every page in full and as the htmx partial its target expects,
escaping, CSRF, login, the conflict path and the access policy."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from django.test import Client

import pytest

from apps.accounts import services as accounts
from apps.core.errors import BadRequestError
from apps.core.model_settings import settings_given
from apps.core.principal import Principal
from apps.prompts import selectors, services
from stackadmin.config import parse_config
from tests.support.dashboard import assert_page, assert_partial, hx, text_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


def make(text: str = "Summarise {{ doc }} for {{ reader }}", variables=("doc", "reader"), **kwargs):
    return services.prompt_create(text=text, variables=list(variables), **kwargs)


# ------------------------------------------------------------------------------------------ login
PAGES = [
    "/dashboard/",
    "/dashboard/new/",
    "/dashboard/{pid}/",
    "/dashboard/{pid}/edit/",
    "/dashboard/{pid}/diff/",
    "/dashboard/{pid}/delete/",
    "/dashboard/{pid}/edit/notice/?base=1",
]


@pytest.mark.parametrize("page", PAGES)
def test_logged_out_users_go_to_login(client, page):
    url = page.format(pid=make().prompt_id)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/login/?next=" + url.replace("?", "%3F").replace("=", "%3D")
    # From an htmx request (an expired session), the whole tab goes to the login page, not a fragment.
    response = client.get(url, headers=hx("prompt-list"))
    assert response.status_code == 200
    assert response.content == b""
    assert response["HX-Redirect"] == "/dashboard/login/?next=%2Fdashboard%2F"


@pytest.mark.parametrize(
    "url",
    ["/dashboard/new/", "/dashboard/analyze/", "/dashboard/{pid}/versions/1/default/", "/dashboard/{pid}/delete/"],
)
def test_logged_out_posts_change_nothing(client, url):
    p = make()
    response = client.post(url.format(pid=p.prompt_id), {"text": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")
    assert [s.prompt_id for s in selectors.prompt_list().data] == [p.prompt_id]


def test_login_page_signs_in_and_out(client, alice):
    page = assert_page(client.get("/dashboard/login/?next=/dashboard/new/"))
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert 'value="/dashboard/new/"' in page
    wrong = client.post("/dashboard/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200
    assert "did not match" in text_of(wrong)
    response = client.post(
        "/dashboard/login/", {"username": "alice", "password": "pw-alice-12345", "next": "/dashboard/new/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/new/"
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/dashboard/logout/")["Location"] == "/dashboard/login/"
    assert client.get("/dashboard/").status_code == 302


def test_root_goes_to_the_dashboard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_header_links_to_admin_and_api_docs(web, admin_client):
    page = assert_page(web.get("/dashboard/"))
    assert 'href="/v1/docs"' in page
    assert 'href="/admin/"' not in page  # alice is not staff
    assert 'href="/admin/"' in text_of(admin_client.get("/dashboard/"))


# ------------------------------------------------------------------------------------------ list
def test_list_page_and_partial(web):
    a = make(message="first")
    services.prompt_update(prompt_id=a.prompt_id, text="Summarise {{ doc }}", variables=["doc"], version=1)
    services.prompt_update(
        prompt_id=a.prompt_id, text="Draft {{ doc }}", variables=["doc"], version=2, set_as_default=False
    )
    b = make(text="Translate {{ text }}\ninto French", variables=["text"], created_by="bob")
    page = assert_page(web.get("/dashboard/"), "prompt-list", "prompt-search")
    assert page.index(b.prompt_id) < page.index(a.prompt_id)  # newest first
    assert "Translate {{ text }} into French" in page  # one line
    assert "default v2" in page
    assert "latest v3" in page
    assert "3 versions" in page
    assert '<span class="chip">text</span>' in page
    assert "by bob" in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'hx-target="#prompt-list"' in page

    partial = assert_partial(web.get("/dashboard/", headers=hx("prompt-list")), "prompt-list")
    assert a.prompt_id in partial
    assert b.prompt_id in partial
    assert "prompt-search" not in partial
    assert 'hx-trigger="refresh"' in partial
    assert 'data-live="*"' in partial


def test_list_search_matches_id_and_text(web):
    a = make(text="Write a haiku about {{ topic }}", variables=["topic"])
    b = make()
    found = assert_partial(web.get("/dashboard/", {"q": "HAIKU"}, headers=hx("prompt-list")), "prompt-list")
    assert a.prompt_id in found
    assert b.prompt_id not in found
    assert "matching “HAIKU”" in found
    by_id = text_of(web.get("/dashboard/", {"q": b.prompt_id[5:20]}))
    assert b.prompt_id in by_id
    assert a.prompt_id not in by_id
    # The refreshed region asks for the same search again.
    assert 'hx-get="/dashboard/?q=HAIKU"' in found
    nothing = assert_partial(web.get("/dashboard/", {"q": "<zebra>"}, headers=hx("prompt-list")), "prompt-list")
    assert "No prompt matches “&lt;zebra&gt;”" in nothing
    assert "Show all prompts" in nothing


def test_list_pages_fifty_at_a_time(web):
    ids = [make(text=f"Prompt number {i}", variables=()).prompt_id for i in range(55)]
    first = assert_page(web.get("/dashboard/"))
    assert first.count("<tr data-prompt-id=") == 50
    assert ids[-1] in first
    assert ids[4] not in first
    assert "1\u201350 of 55 prompts" in first
    assert 'href="?page=2"' in first
    assert "Older →" in first
    second = assert_partial(web.get("/dashboard/", {"page": "2"}, headers=hx("prompt-list")), "prompt-list")
    assert second.count("<tr data-prompt-id=") == 5
    assert ids[0] in second
    assert "← Newer" in second
    # Out-of-range and junk page numbers fall back to a real page.
    assert text_of(web.get("/dashboard/", {"page": "99"})).count("<tr data-prompt-id=") == 5
    assert text_of(web.get("/dashboard/", {"page": "x"})).count("<tr data-prompt-id=") == 50


def test_empty_installation_explains_what_to_do(web):
    page = assert_page(web.get("/dashboard/"), "prompt-list")
    assert "No prompts yet" in page
    assert "Create your first prompt" in page
    assert "/v1/prompts" in page


def test_list_queries_do_not_grow_with_prompts(web, django_assert_num_queries):
    for i in range(3):
        make(text=f"small {i}", variables=())
    # Session, user and the user's access attributes; prompts live in the KV store, not in SQL. The sparklines of
    # the page's prompts: one GROUP BY for today's responses, one more for the finished days of prompts not counted
    # yet, one for the chat completions made with them.
    with django_assert_num_queries(6):
        assert web.get("/dashboard/").status_code == 200
    for i in range(60):
        make(text=f"more {i}", variables=())
    with django_assert_num_queries(6):
        assert web.get("/dashboard/").status_code == 200
    with django_assert_num_queries(5):
        assert web.get("/dashboard/", headers=hx("prompt-list")).status_code == 200


# ------------------------------------------------------------------------------------------ create
def test_create_page_and_partial(web):
    page = assert_page(web.get("/dashboard/new/"), "prompt-form", "variable-chips", "id_text")
    assert "No placeholders yet" in page
    assert "make_default" not in page
    assert_partial(web.get("/dashboard/new/", headers=hx("prompt-form")), "prompt-form")


def test_create_saves_version_one_and_goes_to_it(web):
    response = web.post("/dashboard/new/", {"text": "Hello {{ name }}", "variables": ["name"], "message": "first cut"})
    assert response.status_code == 302
    (summary,) = selectors.prompt_list().data
    assert response["Location"] == f"/dashboard/{summary.prompt_id}/"
    created = summary.default
    assert (created.prompt, created.variables, created.message) == ("Hello {{ name }}", ["name"], "first cut")
    assert created.created_by == "alice"
    assert created.owner_principal == "alice"
    assert f"Created {summary.prompt_id}" in text_of(web.get(response["Location"]))


def test_create_through_htmx_redirects_the_tab(web):
    response = web.post("/dashboard/new/", {"text": "Hi"}, headers=hx("prompt-form"))
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/dashboard/{selectors.prompt_list().data[0].prompt_id}/"


def test_create_with_problems_keeps_the_text_and_says_why(web):
    text = "Hello {{ name }} from {{ place }} and {{ broken"
    response = web.post("/dashboard/new/", {"text": text, "variables": ["name"]}, headers=hx("prompt-form"))
    body = assert_partial(response, "prompt-form")  # status 200: a re-rendered form
    assert html.escape(text, quote=False) in body
    assert "malformed placeholder" in body
    assert 'role="alert"' in body
    assert 'class="chip chip-undeclared"' in body
    assert 'name="declare" value="place"' in body
    assert "Line 1, column 39" in body
    assert selectors.prompt_list().data == []
    # Without JavaScript, the full page comes back the same way.
    assert_page(web.post("/dashboard/new/", {"text": "{{ a }}"}), "prompt-form")
    assert selectors.prompt_list().data == []


def test_declare_buttons_work_without_javascript(web):
    form = {"text": "{{ a }} {{ b }} {{ 9lives }}", "variables": ["a", "gone"], "declare_all": "1"}
    body = assert_page(web.post("/dashboard/new/", form), "prompt-form")
    hidden = re.findall(r'<input type="hidden" name="variables" value="(\w+)">', body)
    assert hidden == ["a", "gone", "b"]  # "9lives" cannot be a variable name: flagged instead
    assert "not a valid name" in body
    assert 'class="chip chip-unused"' in body
    assert selectors.prompt_list().data == []  # declaring never saves


def test_text_keeps_its_lines_through_a_round_trip(web):
    """Browsers send CRLF line breaks, and a text area drops a newline right after its opening tag."""
    web.post("/dashboard/new/", {"text": "\r\nHello\r\n  {{ x }}\r\n", "variables": ["x"]})
    created = selectors.prompt_list().data[0].default
    assert created.prompt == "\nHello\n  {{ x }}\n"
    page = text_of(web.get(f"/dashboard/{created.prompt_id}/edit/"))
    assert '">\n\nHello\n  {{ x }}\n</textarea>' in page


# ------------------------------------------------------------------------------------------ analyze
def test_analyze_returns_the_chips(web):
    body = assert_partial(
        web.post(
            "/dashboard/analyze/",
            {"text": "{{ doc }} {{ extra }} {{ <script>x</script> }}", "variables": ["doc", "unused"]},
            headers=hx("variable-chips"),
        ),
        "variable-chips",
    )
    assert 'class="chip chip-declared"' in body
    assert 'class="chip chip-undeclared"' in body
    assert 'class="chip chip-unused"' in body
    assert "Fix 1 placeholder" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>x" not in body
    assert re.findall(r'name="variables" value="(\w+)"', body) == ["doc", "unused"]


def test_analyze_declares_and_removes(web):
    declared = text_of(web.post("/dashboard/analyze/", {"text": "{{ a }}", "declare": "a"}, headers=hx()))
    assert re.findall(r'name="variables" value="(\w+)"', declared) == ["a"]
    assert "1 declared variable." in declared
    removed = text_of(
        web.post("/dashboard/analyze/", {"text": "{{ a }}", "variables": ["a"], "undeclare": "a"}, headers=hx())
    )
    assert re.findall(r'name="variables" value="(\w+)"', removed) == []
    assert "Declare 1 new variable" in removed
    ignored = text_of(web.post("/dashboard/analyze/", {"text": "no placeholders", "declare": "ghost"}, headers=hx()))
    assert 'name="variables"' not in ignored
    assert web.get("/dashboard/analyze/").status_code == 405


# ------------------------------------------------------------------------------------------ detail
def test_detail_page_shows_the_timeline(web):
    p = make(message="first", created_by="bob")
    services.prompt_update(
        prompt_id=p.prompt_id, text="Summarise {{ doc }}", variables=["doc"], version=1, message="shorter"
    )
    services.prompt_version_set_default(prompt_id=p.prompt_id, version=1)
    page = assert_page(
        web.get(f"/dashboard/{p.prompt_id}/"),
        "prompt-workspace",
        "version-list",
        "version-status",
        "preview-output",
        "delete-confirm",
    )
    assert page.index("Version 2</a>") < page.index("Version 1</a>")  # newest first
    assert "shorter" in page
    assert "first" in page
    assert "bob" in page
    assert '<h2 id="version-heading">Version 1</h2>' in page  # the default is shown
    assert 'id="var-doc"' in page
    assert 'id="var-reader"' in page
    assert f'"id": "{p.prompt_id}"' in page  # the code snippet
    v2 = assert_page(web.get(f"/dashboard/{p.prompt_id}/", {"version": "2"}))
    assert '<h2 id="version-heading">Version 2</h2>' in v2
    assert "Set version 2 as default" in v2
    assert "Applications get version 1 unless they ask for this one" in v2


@pytest.mark.parametrize("target", ["prompt-workspace", "version-list", "version-status", "preview-output"])
def test_detail_partials(web, target):
    p = make()
    body = assert_partial(web.get(f"/dashboard/{p.prompt_id}/?version=1", headers=hx(target)), target)
    assert "prompt-heading" not in body


def test_detail_partial_defaults_to_the_workspace(web):
    p = make()
    assert_partial(web.get(f"/dashboard/{p.prompt_id}/", headers=hx()), "prompt-workspace")


def test_history_restore_gets_the_whole_page(web):
    p = make()
    headers = {**hx("version-list"), "HX-History-Restore-Request": "true"}
    assert_page(web.get(f"/dashboard/{p.prompt_id}/", headers=headers), "version-list")


def test_missing_prompts_and_versions(web):
    p = make()
    ghost = "pmpt_" + "0" * 48
    page = assert_page(web.get(f"/dashboard/{ghost}/"), status=404)
    assert f"Prompt &#x27;{ghost}&#x27; not found." in page
    assert "has no version 7" in text_of(web.get(f"/dashboard/{p.prompt_id}/?version=7"))
    assert web.get("/dashboard/not-a-prompt-id/").status_code == 404
    # A region refreshing after the prompt was deleted elsewhere is replaced by a notice (htmx swaps 404s).
    services.prompt_delete(prompt_id=p.prompt_id)
    notice = assert_partial(web.get(f"/dashboard/{p.prompt_id}/", headers=hx("version-list")), "version-list", 404)
    assert "not found" in notice
    assert "Back to all prompts" in notice


# ------------------------------------------------------------------------------------------ set default
def test_set_default_as_a_plain_form(web):
    p = make()
    services.prompt_update(prompt_id=p.prompt_id, text="two", variables=[], version=1)
    response = web.post(f"/dashboard/{p.prompt_id}/versions/1/default/")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{p.prompt_id}/?version=1"
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 1
    assert "Version 1 is now the default." in text_of(web.get(response["Location"]))
    assert web.get(f"/dashboard/{p.prompt_id}/versions/1/default/").status_code == 405


@pytest.mark.parametrize(("target", "other"), [("version-list", "version-status"), ("version-status", "version-list")])
def test_set_default_with_htmx_swaps_both_regions(web, target, other):
    p = make()
    services.prompt_update(prompt_id=p.prompt_id, text="two", variables=[], version=1)
    response = web.post(f"/dashboard/{p.prompt_id}/versions/1/default/", {"shown": "1"}, headers=hx(target))
    body = assert_partial(response, target)
    assert re.search(rf'<\w+ id="{other}"[^>]*hx-swap-oob="true"', body)  # the other region, out of band
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 1
    assert "Set version 1 as default" not in body


def test_set_default_of_a_missing_version(web):
    p = make()
    response = web.post(f"/dashboard/{p.prompt_id}/versions/9/default/")
    assert response.status_code == 404
    assert "has no version 9" in text_of(response)


# ------------------------------------------------------------------------------------------ edit
def test_edit_page_and_partial(web):
    p = make()
    services.prompt_update(prompt_id=p.prompt_id, text="v2 {{ doc }}", variables=["doc"], version=1)
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/edit/"), "prompt-form", "variable-chips", "edit-notice")
    assert ">\nv2 {{ doc }}</textarea>" in page
    assert 'name="base_version" value="2"' in page
    assert "Save version 3" in page
    assert 'name="make_default" checked' in page
    older = assert_page(web.get(f"/dashboard/{p.prompt_id}/edit/?from=1"))
    assert ">\nSummarise {{ doc }} for {{ reader }}</textarea>" in older
    assert 'name="base_version" value="2"' in older
    assert "Starting from version 1" in older
    assert_partial(web.get(f"/dashboard/{p.prompt_id}/edit/", headers=hx("prompt-form")), "prompt-form")


def test_edit_saves_a_new_version(web):
    p = make()
    response = web.post(
        f"/dashboard/{p.prompt_id}/edit/",
        {"text": "Briefly: {{ doc }}", "variables": ["doc"], "message": "shorter", "base_version": "1"},
    )  # make_default unchecked
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{p.prompt_id}/?version=2"
    latest = selectors.prompt_version_get(prompt_id=p.prompt_id, version=2)
    assert (latest.prompt, latest.variables, latest.message, latest.created_by) == (
        "Briefly: {{ doc }}",
        ["doc"],
        "shorter",
        "alice",
    )
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 1  # the default did not move
    response = web.post(
        f"/dashboard/{p.prompt_id}/edit/",
        {"text": "Third {{ doc }}", "variables": ["doc"], "base_version": "2", "make_default": "on"},
        headers=hx("prompt-form"),
    )
    assert response["HX-Redirect"] == f"/dashboard/{p.prompt_id}/?version=3"
    assert selectors.prompt_get(prompt_id=p.prompt_id).version == 3


def test_edit_without_changes_saves_nothing(web):
    p = make()
    form = {"text": p.prompt, "variables": p.variables, "base_version": "1", "make_default": "on"}
    body = assert_partial(web.post(f"/dashboard/{p.prompt_id}/edit/", form, headers=hx("prompt-form")), "prompt-form")
    assert "Nothing to save" in body
    assert len(selectors.prompt_versions_list(prompt_id=p.prompt_id)) == 1


def test_edit_conflict_keeps_the_text_and_shows_their_change(web):
    p = make(text="Summarise {{ doc }}.\nBe brief.", variables=["doc"])
    # Alice opens the editor at version 1; meanwhile bob saves version 2.
    services.prompt_update(
        prompt_id=p.prompt_id,
        text="Summarise {{ doc }}.\nBe very brief.",
        variables=["doc"],
        version=1,
        message="tighter",
        created_by="bob",
    )
    mine = "Summarise {{ doc }} for {{ reader }}.\nBe brief & <kind>."
    form = {"text": mine, "variables": ["doc", "reader"], "message": "add reader", "base_version": "1"}
    response = web.post(f"/dashboard/{p.prompt_id}/edit/", form, headers=hx("prompt-form"))
    body = assert_partial(response, "prompt-form", status=409)
    assert "Someone saved a newer version while you were editing" in body
    assert "<strong>bob</strong>" in body
    assert "tighter" in body
    assert html.escape(mine, quote=False) + "</textarea>" in body  # the text survives, escaped
    assert 'value="add reader"' in body
    assert re.search(r"<ins>\s?very\s?</ins>", body)  # what bob changed
    assert 'name="base_version" value="2"' in body
    assert "Save version 3" in body
    assert len(selectors.prompt_versions_list(prompt_id=p.prompt_id)) == 2  # nothing saved
    # Saving again, now on top of bob's version, goes through.
    again = web.post(f"/dashboard/{p.prompt_id}/edit/", {**form, "base_version": "2"})
    assert again.status_code == 302
    assert selectors.prompt_version_get(prompt_id=p.prompt_id, version=3).prompt == mine
    # Without htmx, the whole page comes back with the same notice.
    services.prompt_update(prompt_id=p.prompt_id, text="four", variables=[], version=3)
    page = assert_page(web.post(f"/dashboard/{p.prompt_id}/edit/", {**form, "base_version": "3"}), status=409)
    assert "Someone saved a newer version" in page


def test_edit_of_a_prompt_deleted_meanwhile_offers_to_save_it_as_new(web):
    p = make()
    services.prompt_delete(prompt_id=p.prompt_id)
    form = {"text": "keep me {{ doc }}", "variables": ["doc"], "base_version": "1"}
    body = assert_partial(web.post(f"/dashboard/{p.prompt_id}/edit/", form, headers=hx("prompt-form")), "prompt-form")
    assert "keep me {{ doc }}</textarea>" in body
    assert "Save as a new prompt" in body
    assert 'formaction="/dashboard/new/"' in body


def test_edit_notice_tells_about_newer_versions(web):
    p = make()
    assert_page(web.get(f"/dashboard/{p.prompt_id}/edit/"), "edit-notice")
    quiet = assert_partial(web.get(f"/dashboard/{p.prompt_id}/edit/notice/?base=1", headers=hx()), "edit-notice")
    assert "notice-warn" not in quiet
    services.prompt_update(prompt_id=p.prompt_id, text="x", variables=[], version=1, created_by="bob")
    loud = assert_partial(web.get(f"/dashboard/{p.prompt_id}/edit/notice/?base=1", headers=hx()), "edit-notice")
    assert "Version 2 was just saved by bob" in loud
    assert 'hx-trigger="refresh"' in loud
    assert web.get(f"/dashboard/{p.prompt_id}/edit/notice/?base=1")["Location"] == f"/dashboard/{p.prompt_id}/edit/"
    services.prompt_delete(prompt_id=p.prompt_id)
    gone = assert_partial(web.get(f"/dashboard/{p.prompt_id}/edit/notice/?base=1", headers=hx()), "edit-notice")
    assert "was just deleted" in gone


# ------------------------------------------------------------------------------------------ diff
def test_diff_page_and_partial(web):
    p = make(text="Line one\nSummarise {{ doc }} now.\nLine three", variables=["doc"])
    services.prompt_update(
        prompt_id=p.prompt_id,
        text="Line one\nSummarise {{ doc }} for {{ reader }} now.\nLine three",
        variables=["doc", "reader"],
        version=1,
    )
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/diff/"), "diff-view", "diff-from", "diff-to")
    assert re.search(r"<ins>\s?for \{\{ reader \}\}\s?</ins>", page)
    assert "chip-added" in page
    assert "reader" in page
    assert "+1" in page
    assert "\u22121" in page
    assert '<option value="1" selected>' in page
    assert '<option value="2" selected>' in page
    reverse = assert_partial(
        web.get(f"/dashboard/{p.prompt_id}/diff/?from=2&to=1", headers=hx("diff-view")), "diff-view"
    )
    assert "<del>" in reverse
    assert "chip-removed" in reverse
    same = text_of(web.get(f"/dashboard/{p.prompt_id}/diff/?from=2&to=2", headers=hx("diff-view")))
    assert "Pick two different versions" in same


def test_diff_of_a_single_version(web):
    p = make()
    assert "one version so far" in text_of(web.get(f"/dashboard/{p.prompt_id}/diff/"))


# ------------------------------------------------------------------------------------------ preview
def test_preview_marks_filled_and_missing_values(web):
    p = make()
    url = f"/dashboard/{p.prompt_id}/versions/1/preview/"
    body = assert_partial(
        web.post(url, {"var_doc": "<b>the report</b>"}, headers=hx("preview-output")), "preview-output"
    )
    assert '<mark class="filled" title="doc">&lt;b&gt;the report&lt;/b&gt;</mark>' in body
    assert '<mark class="missing" title="No value for reader">{{ reader }}</mark>' in body
    assert "Missing 1 value" in body
    done = text_of(web.post(url, {"var_doc": "a", "var_reader": "b"}, headers=hx("preview-output")))
    assert "Every variable has a value" in done
    assert re.sub(r"</?mark[^>]*>", "", done).count("Summarise a for b") == 1
    # Without JavaScript the form posts to the same place and gets the whole page, values kept.
    page = assert_page(web.post(url, {"var_doc": "kept value"}), "preview-output")
    assert ">\nkept value</textarea>" in page
    assert web.get(url).status_code == 405


# ------------------------------------------------------------------------------------------ delete
def test_delete_asks_naming_the_prompt_then_deletes(web):
    p = make(text="Doomed {{ doc }}", variables=["doc"])
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/delete/"), "delete-confirm")
    assert f"Delete prompt <code>{p.prompt_id}</code>?" in page
    assert "Doomed {{ doc }}" in page
    assert "All 1 version of this prompt will be removed" in page
    inline = assert_partial(
        web.get(f"/dashboard/{p.prompt_id}/delete/", headers=hx("delete-confirm")), "delete-confirm"
    )
    assert p.prompt_id in inline
    assert 'method="post"' in inline
    response = web.post(f"/dashboard/{p.prompt_id}/delete/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert selectors.prompt_list().data == []
    assert f"Deleted {p.prompt_id}" in text_of(web.get("/dashboard/"))
    assert web.post(f"/dashboard/{p.prompt_id}/delete/").status_code == 404


def test_delete_through_htmx_redirects_the_tab(web):
    p = make()
    assert web.post(f"/dashboard/{p.prompt_id}/delete/", headers=hx())["HX-Redirect"] == "/dashboard/"


# ------------------------------------------------------------------------------------------ safety
def test_user_text_is_escaped_everywhere(web):
    evil = "<script>alert(1)</script> {{ doc }} <img src=x onerror=alert(2)>"
    p = services.prompt_create(text=evil, variables=["doc"], message="<b>msg</b>", created_by="<i>eve</i>")
    services.prompt_update(
        prompt_id=p.prompt_id,
        text=evil + "!",
        variables=["doc"],
        version=1,
        message="<u>two</u>",
        created_by="<i>eve</i>",
    )
    pages = [
        web.get("/dashboard/"),
        web.get("/dashboard/", {"q": "<script>"}),
        web.get(f"/dashboard/{p.prompt_id}/"),
        web.get(f"/dashboard/{p.prompt_id}/?version=1"),
        web.get(f"/dashboard/{p.prompt_id}/edit/"),
        web.get(f"/dashboard/{p.prompt_id}/diff/"),
        web.get(f"/dashboard/{p.prompt_id}/delete/"),
        web.post(f"/dashboard/{p.prompt_id}/versions/2/preview/", {"var_doc": "<script>alert(3)</script>"}),
        web.post("/dashboard/analyze/", {"text": evil}, headers=hx()),
    ]
    for response in pages:
        body = text_of(response)
        assert response.status_code == 200, body[:500]
        for raw in ("<script>alert", "<img src=x", "<b>msg</b>", "<i>eve</i>", "<u>two</u>"):
            assert raw not in body, (response.request["PATH_INFO"], raw)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(pages[2])


def test_templates_never_mark_user_text_safe():
    for path in [*(ROOT / "templates").rglob("*.html")]:
        source = path.read_text()
        assert "|safe" not in source, path
        assert "autoescape off" not in source, path
    assert "mark_safe" not in (ROOT / "apps/prompts/views.py").read_text()


def test_template_comments_close_on_their_line():
    """Django's `{# #}` comments are one line; one left open shows on the page."""
    for path in [*(ROOT / "templates").rglob("*.html"), *(ROOT / "apps").rglob("templates/**/*.html")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert "{#" not in line or "#}" in line.split("{#", 1)[1], f"{path}:{number}"


def test_forms_need_the_csrf_token(alice):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    page = text_of(strict.get("/dashboard/new/"))
    assert strict.post("/dashboard/new/", {"text": "Hi"}).status_code == 403
    assert selectors.prompt_list().data == []
    # Forms carry the token as a field; htmx sends it as the header from <body hx-headers=...>.
    field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert strict.post("/dashboard/new/", {"text": "Hi", "csrfmiddlewaretoken": field}).status_code == 302
    header = re.search(r"hx-headers='\{\"x-csrftoken\": \"([^\"]+)\"\}'", page).group(1)
    response = strict.post("/dashboard/new/", {"text": "Hello"}, headers={**hx("prompt-form"), "X-CSRFToken": header})
    assert response.status_code == 200
    assert "HX-Redirect" in response


# ------------------------------------------------------------------------------------------ access policy
def test_dashboard_applies_the_access_policy(settings, client, django_user_model):
    """With authentication on, the default policy lets users see what they own or share a team with."""
    settings.STACKADMIN_AUTH_ENABLED = True
    users = {}
    for name, teams in (("alice", ["red"]), ("bob", ["blue"]), ("carol", ["red"])):
        users[name] = django_user_model.objects.create_user(name, password="pw-123456789")
        accounts.access_attributes_set(user=users[name], teams=teams)
    owned = services.prompt_create(text="red team prompt", principal=Principal("alice", {"teams": ["red"]}))
    client.force_login(users["bob"])
    assert owned.prompt_id not in text_of(client.get("/dashboard/"))
    assert client.get(f"/dashboard/{owned.prompt_id}/").status_code == 404
    assert client.post(f"/dashboard/{owned.prompt_id}/versions/1/default/").status_code == 404
    assert client.post(f"/dashboard/{owned.prompt_id}/delete/").status_code == 404
    client.force_login(users["carol"])
    assert owned.prompt_id in text_of(client.get("/dashboard/"))
    response = client.post(
        f"/dashboard/{owned.prompt_id}/edit/", {"text": "red, edited", "base_version": "1", "make_default": "on"}
    )
    assert response.status_code == 302
    edited = selectors.prompt_get(prompt_id=owned.prompt_id)
    assert edited.created_by == "carol"
    assert edited.owner_principal == "alice"


def _team_users(django_user_model, **teams: list[str]) -> dict:
    users = {}
    for name, names in teams.items():
        users[name] = django_user_model.objects.create_user(name, password="pw-123456789")
        accounts.access_attributes_set(user=users[name], teams=names)
    return users


def _blanked(response) -> str:
    """The page with prompt ids (whole or shortened) and the per-response masked CSRF tokens blanked out."""
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "<csrf>", re.sub(r"pmpt_[0-9a-f]+", "<id>", text_of(response)))


def test_another_teams_prompt_is_missing_on_every_page_and_partial(settings, client, django_user_model):
    """Exactly as a prompt that does not exist: the same status and the same page, apart from the id."""
    settings.STACKADMIN_AUTH_ENABLED = True
    users = _team_users(django_user_model, alice=["red"], bob=["blue"])
    owned = make(text="red team secret {{ doc }}", variables=["doc"], principal=Principal("alice", {"teams": ["red"]}))
    pid, missing = owned.prompt_id, "pmpt_" + "0" * 48
    client.force_login(users["bob"])
    assert pid not in text_of(client.get("/dashboard/"))
    found = text_of(client.get("/dashboard/", {"q": "red team secret"}, headers=hx("prompt-list")))
    assert "No prompt matches" in found
    assert pid not in found
    theirs, nobodys = (client.get("/dashboard/", {"q": q}, headers=hx("prompt-list")) for q in (pid, missing))
    assert _blanked(theirs) == _blanked(nobodys)
    requests = [
        *(("get", page, {}, None) for page in PAGES[2:]),
        ("get", "/dashboard/{pid}/?version=1", {}, "version-list"),
        ("get", "/dashboard/{pid}/diff/?from=1&to=1", {}, "diff-view"),
        ("get", "/dashboard/{pid}/edit/notice/?base=1", {}, "edit-notice"),
        ("post", "/dashboard/{pid}/edit/", {"text": "bob's", "base_version": "1", "make_default": "on"}, None),
        ("post", "/dashboard/{pid}/versions/1/preview/", {"var_doc": "x"}, "preview-output"),
        ("post", "/dashboard/{pid}/versions/1/default/", {}, None),
        ("post", "/dashboard/{pid}/versions/1/default/", {}, "version-status"),
        ("post", "/dashboard/{pid}/delete/", {}, None),
    ]
    for method, url, data, target in requests:
        headers = hx(target) if target else {}
        theirs = getattr(client, method)(url.format(pid=pid), data, headers=headers)
        nobodys = getattr(client, method)(url.format(pid=missing), data, headers=headers)
        assert theirs.status_code == nobodys.status_code, url
        assert theirs.status_code in (404, 200), url
        assert "red team secret" not in text_of(theirs), url
        assert _blanked(theirs) == _blanked(nobodys), url
    kept = selectors.prompt_versions_list(prompt_id=pid)
    assert [(v.version, v.prompt, v.is_default) for v in kept] == [(1, "red team secret {{ doc }}", True)]


def test_a_custom_policy_lets_the_team_read_but_not_change(settings, client, django_user_model):
    from apps.core.policy import parse_policy

    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"permit": {"actions": ["create", "read", "update", "delete"]}, "when": "user is owner"},
            {"permit": {"actions": ["read"]}, "when": "user in owners teams"},
        ]
    )
    users = _team_users(django_user_model, alice=["red"], carol=["red"])
    alice = Principal("alice", {"teams": ["red"]})
    owned = make(text="v1", variables=[], principal=alice)
    services.prompt_update(prompt_id=owned.prompt_id, text="v2", version=1, principal=alice)
    pid = owned.prompt_id
    client.force_login(users["carol"])
    assert pid in text_of(client.get("/dashboard/"))
    assert_page(client.get(f"/dashboard/{pid}/"), "version-list")

    plain = client.post(f"/dashboard/{pid}/versions/1/default/")
    assert plain.status_code == 302
    assert plain["Location"] == f"/dashboard/{pid}/"
    assert f"You may not update prompt &#x27;{pid}&#x27;" in text_of(client.get(plain["Location"]))
    swapped = client.post(f"/dashboard/{pid}/versions/1/default/", headers=hx("version-status"))
    assert swapped.status_code == 403
    assert swapped["HX-Reswap"] == "none"
    assert "You may not update" in swapped["HX-Trigger"]
    assert client.post(f"/dashboard/{pid}/delete/").status_code == 302
    edit = client.post(f"/dashboard/{pid}/edit/", {"text": "carol's", "base_version": "2", "make_default": "on"})
    assert edit.status_code == 200
    assert "You may not update" in text_of(edit)
    kept = selectors.prompt_versions_list(prompt_id=pid)
    assert [(v.version, v.prompt, v.is_default) for v in kept] == [(1, "v1", False), (2, "v2", True)]


# ------------------------------------------------------------------------------------------ chat templates and settings
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


DOCS_MCP = {"server_label": "docs", "server_url": "https://mcp.example.com/mcp", "require_approval": "never"}


def chat_form(*messages: tuple[str, str], variables=(), **fields) -> dict:
    """What the chat editor posts: a role, a content and a format per message, in order."""
    return {
        "kind": "chat",
        "message_role": [role for role, _ in messages],
        "message_content": [content for _, content in messages],
        "message_format": ["text"] * len(messages),
        "variables": list(variables),
        **fields,
    }


def make_chat(settings: dict | None = None, **kwargs):
    messages = [
        {"role": "system", "content": "You are a {{ role }}."},
        {"role": "user", "content": "Greet {{ name }}."},
    ]
    return services.prompt_create(messages=messages, variables=["role", "name"], settings=settings or {}, **kwargs)


def field_error(body: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field)}"[^>]*>(.*?)</p>', body, re.DOTALL)
    assert found is not None, f"no error shown at {field}"
    return html.unescape(found.group(1))


def test_create_a_chat_prompt_with_settings(web):
    form = chat_form(
        ("system", "You are a {{ role }}.\r\nBe brief."),
        ("user", "Greet {{ name }}."),
        variables=["role", "name"],
        model="gpt-5",
        temperature="0.3",
        top_p="",
        max_output_tokens="500",
        tools=json.dumps([WEATHER_TOOL]),
        tool_choice='{"type": "function", "name": "get_weather"}',
        parallel_tool_calls="false",
        text_format='{"type": "json_object"}',
        verbosity="low",
        reasoning_effort="low",
        truncation="disabled",
        message="chat",
    )
    response = web.post("/dashboard/new/", form)
    assert response.status_code == 302, re.findall(r'class="field-error"[^>]*>(.*?)<', text_of(response))
    created = selectors.prompt_list().data[0].default
    assert created.messages == [
        {"role": "system", "content": "You are a {{ role }}.\nBe brief."},
        {"role": "user", "content": "Greet {{ name }}."},
    ]
    assert created.variables == ["role", "name"]
    assert created.settings == {
        "model": "gpt-5",
        "temperature": 0.3,
        "max_output_tokens": 500,
        "tools": [{**WEATHER_TOOL, "strict": None}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
        "reasoning": {"effort": "low"},
        "truncation": "disabled",
    }
    # The same version as the API makes of the same request.
    api = services.prompt_create(
        messages=created.messages, variables=created.variables, settings=settings_given(created.settings)
    )
    assert (api.prompt, api.settings) == (created.prompt, created.settings)


def test_the_chat_editor_reshapes_without_saving(web):
    base = chat_form(("system", "Be a {{ role }}."), ("user", "Hi {{ name }}"), variables=["role"])
    added = assert_page(web.post("/dashboard/new/", {**base, "add_message": "user"}), "prompt-form", "message-2")
    assert re.search(r'<textarea id="message-2-content"[^>]*autofocus', added)
    assert "Message 3" in added
    moved = assert_partial(
        web.post("/dashboard/new/", {**base, "move_up": "1"}, headers=hx("prompt-form")), "prompt-form"
    )
    assert moved.index(">\nHi {{ name }}</textarea>") < moved.index(">\nBe a {{ role }}.</textarea>")
    assert re.search(r'<button type="submit" id="message-0-down"[^>]*autofocus', moved)  # it reached the top
    removed = text_of(web.post("/dashboard/new/", {**base, "remove_message": "0"}, headers=hx("prompt-form")))
    assert "Be a {{ role }}." not in removed
    assert 'name="remove_message"' not in removed  # the last message stays
    # The chips cover every message: `name` (message 2) is not declared yet.
    assert 'class="chip chip-undeclared"' in moved
    assert 'name="declare" value="name"' in moved
    assert selectors.prompt_list().data == []


def test_switching_between_text_and_chat_keeps_what_was_written(web):
    chat = text_of(web.post("/dashboard/new/", {"text": "Summarise {{ doc }}", "switch_kind": "chat"}))
    assert 'name="kind" value="chat"' in chat
    assert re.search(r'<option value="system" selected>system</option>', chat)
    assert ">\nSummarise {{ doc }}</textarea>" in chat
    back = chat_form(("system", "One"), ("user", "Two {{ x }}"), switch_kind="text")
    text = text_of(web.post("/dashboard/new/", back))
    assert 'name="kind" value="text"' in text
    assert ">\nOne\n\nTwo {{ x }}</textarea>" in text
    assert selectors.prompt_list().data == []


@pytest.mark.parametrize(
    ("field", "value", "shown_at"),
    [
        ("temperature", "3", "error-temperature"),
        ("top_p", "lots", "error-top_p"),
        ("max_output_tokens", "8", "error-max_output_tokens"),
        ("tools", '[{"type": "file_search"}]', "error-tools"),
        (
            "tools",
            '[{"type": "mcp", "server_label": "d", "server_url": "https://h.test/mcp", "authorization": "t"}]',
            "error-tools",
        ),
        ("tools", '[{"type": "function", "name": "a b"}]', "error-tools"),
        ("tool_choice", "sometimes", "error-tool_choice"),
        ("text_format", '{"type": "json_schema", "name": "x"}', "error-text_format"),
        ("model", "m" * 257, "error-model"),
    ],
)
def test_a_bad_setting_is_shown_next_to_its_field_and_nothing_is_saved(web, field, value, shown_at):
    form = chat_form(("user", "Hi {{ name }}"), variables=["name"], **{field: value})
    body = assert_partial(web.post("/dashboard/new/", form, headers=hx("prompt-form")), "prompt-form")
    shown = field_error(body, shown_at)
    assert "Invalid value for" in shown or "Missing required parameter" in shown
    assert selectors.prompt_list().data == []
    # Worded as `/v1/prompts` words it: the same validator, on the same value.
    if field == "tools":
        api = {"tools": json.loads(value)}
    elif field == "text_format":
        api = {"text": {"format": json.loads(value)}}
    else:
        api = {field: value}
    with pytest.raises(BadRequestError) as caught:
        settings_given(api)
    assert shown == caught.value.message


def test_every_bad_field_is_marked_at_once(web):
    form = chat_form(
        ("user", "Hi {{ name }}"), ("bogus", "x"), variables=["name"], temperature="-1", tools="[{", model="m"
    )
    body = text_of(web.post("/dashboard/new/", form))
    assert field_error(body, "message-1-error").startswith("Invalid value for 'messages[1].role': 'bogus'")
    assert "temperature" in field_error(body, "error-temperature")
    assert field_error(body, "error-tools").startswith("Invalid value for 'tools': not valid JSON (")
    assert 'aria-invalid="true" aria-describedby="temperature-hint error-temperature"' in body
    assert 'id="error-model"' not in body
    # One alert above the form says where the problems are.
    assert (
        '<p>Nothing was saved: fix the 3 problems shown at <a href="#message-1-content">Message 2</a>, '
        '<a href="#id_temperature">Temperature</a>, <a href="#id_tools">Tools</a>.</p>'
    ) in body
    assert body.count('role="alert"') == 1
    assert selectors.prompt_list().data == []
    # A reshaping button saves nothing, so nothing is said to be unsaved; the problems stay at their fields.
    added = text_of(web.post("/dashboard/new/", {**form, "add_message": "user"}))
    assert "Nothing was saved" not in added
    assert 'id="error-temperature"' in added


def test_template_problems_are_shown_at_their_message(web):
    form = chat_form(("system", "Fine {{ a }}"), ("user", "Broken {{ b"), variables=["a", "b"])
    body = text_of(web.post("/dashboard/new/", form))
    assert "malformed placeholder" in field_error(body, "message-1-error")
    assert "Message 2, line 1, column 8" in body  # in the chips' list of problems too
    undeclared = text_of(web.post("/dashboard/new/", chat_form(("system", "A {{ a }}"), ("user", "B {{ b }}"))))
    assert "undeclared variables: ['a', 'b']" in field_error(undeclared, "error-variables")
    empty = text_of(web.post("/dashboard/new/", {"kind": "chat"}))
    assert "messages" in field_error(empty, "error-messages")
    parts = chat_form(("user", "[{"))
    parts["message_format"] = ["parts"]
    assert "not valid JSON" in field_error(text_of(web.post("/dashboard/new/", parts)), "message-0-error")
    assert selectors.prompt_list().data == []


def test_analyze_reads_every_message(web):
    form = chat_form(("system", "{{ a }}"), ("user", "{{ b }} {{ c"), variables=["a"])
    body = assert_partial(web.post("/dashboard/analyze/", form, headers=hx("variable-chips")), "variable-chips")
    assert 'class="chip chip-declared"' in body
    assert 'name="declare" value="b"' in body
    assert "Message 2, line 1, column 9" in body
    declared = text_of(web.post("/dashboard/analyze/", {**form, "declare_all": "1"}, headers=hx("variable-chips")))
    assert re.findall(r'name="variables" value="(\w+)"', declared) == ["a", "b"]


def test_web_search_and_mcp_tools_are_saved_and_shown(web):
    tools = [{"type": "web_search", "search_context_size": "low"}, {"type": "mcp", **DOCS_MCP}]
    form = chat_form(("user", "Look up {{ q }}."), variables=["q"], model="gpt-5", tools=json.dumps(tools))
    response = web.post("/dashboard/new/", form)
    assert response.status_code == 302, re.findall(r'class="field-error"[^>]*>(.*?)<', text_of(response))
    created = selectors.prompt_list().data[0].default
    assert created.settings["tools"] == [tools[0], {**tools[1], "server_description": None}]
    detail = html.unescape(assert_page(web.get(f"/dashboard/{created.prompt_id}/")))
    assert '"type": "web_search"' in detail
    assert '"server_url": "https://mcp.example.com/mcp"' in detail
    edit = html.unescape(assert_page(web.get(f"/dashboard/{created.prompt_id}/edit/")))
    assert '"server_label": "docs"' in edit
    assert '"search_context_size": "low"' in edit


@pytest.mark.parametrize(
    ("target", "field", "value", "shown"),
    [
        ("check-tools", "tools", "[{", "not valid JSON"),
        ("check-tools", "tools", json.dumps([WEATHER_TOOL]), "Valid tools."),
        ("check-tools", "tools", "[]", "Valid tools."),
        ("check-tools", "tools", json.dumps([{"type": "web_search"}, {"type": "mcp", **DOCS_MCP}]), "Valid tools."),
        (
            "check-tools",
            "tools",
            json.dumps([{"type": "mcp", **DOCS_MCP, "headers": {"k": "v"}}]),
            "never stored at rest",
        ),
        ("check-tools", "tools", '[{"type": "code_interpreter"}]', "supported: 'function' (run by the client), 'mcp'"),
        ("check-text_format", "text_format", '{"type": "xml"}', "expected text, json_object or json_schema"),
        ("check-text_format", "text_format", '{"type": "json_object"}', "Valid text format."),
    ],
)
def test_json_settings_are_checked_as_they_are_typed(web, target, field, value, shown):
    # The other fields' problems (here a bad temperature) are not this field's.
    form = {"text": "Hi", field: value, "temperature": "9"}
    body = assert_partial(web.post("/dashboard/check-settings/", form, headers=hx(target)), target)
    assert shown in html.unescape(body)
    assert "temperature" not in body
    assert web.get("/dashboard/check-settings/").status_code == 405


def test_model_suggestions_are_the_models_the_server_can_reach(web, settings, tmp_path):
    settings.STACKADMIN_RUN_CONFIG = parse_config(
        {
            "providers": {
                "inference": [
                    {
                        "provider_id": "fake",
                        "provider_type": "remote::openai",
                        "config": {"base_url": "http://127.0.0.1:9/v1"},
                    }
                ]
            },
            "registered_resources": {
                "models": [
                    {"model_id": "fake-model", "provider_id": "fake"},
                    {"model_id": "<b>odd</b>", "provider_id": "fake"},
                    {"model_id": "embedder", "provider_id": "fake", "model_type": "embedding"},
                ]
            },
        },
        source="tests",
        home=str(tmp_path),
    )
    options = assert_partial(web.get("/dashboard/models/", headers=hx("model-options")), "model-options")
    assert re.findall(r'<option value="([^"]*)">', options) == ["fake-model", "&lt;b&gt;odd&lt;/b&gt;"]
    page = assert_page(web.get("/dashboard/models/"))  # what the editor links to, for browsers without JavaScript
    assert "<code>fake-model</code>" in page
    assert "embedder" not in page
    editor = assert_page(web.get("/dashboard/new/"))
    assert 'list="model-options"' in editor
    assert 'hx-get="/dashboard/models/" hx-trigger="load"' in editor


def test_model_suggestions_need_a_signed_in_user(client):
    response = client.get("/dashboard/models/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/login/?next=/dashboard/models/"
    response = client.get("/dashboard/models/", headers=hx("model-options"))
    assert response["HX-Redirect"] == "/dashboard/login/?next=%2Fdashboard%2F"


def test_model_suggestions_say_why_there_are_none(web, settings, tmp_path):
    settings.STACKADMIN_RUN_CONFIG = parse_config(
        {
            "providers": {
                "inference": [
                    {
                        "provider_id": "down",
                        "provider_type": "remote::openai",
                        "config": {"base_url": "http://127.0.0.1:9/v1", "timeout": 2, "max_retries": 0},
                    }
                ]
            }
        },
        source="tests",
        home=str(tmp_path),
    )
    page = assert_page(web.get("/dashboard/models/"))
    assert 'class="notice notice-error"' in page
    options = assert_partial(web.get("/dashboard/models/", headers=hx("model-options")), "model-options")
    assert "<option" not in options


def test_edit_a_chat_prompt_into_a_new_version(web):
    p = make_chat({"model": "gpt-5", "temperature": 0.2, "tools": settings_given({"tools": [WEATHER_TOOL]})["tools"]})
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/edit/"), "prompt-form", "message-0", "message-1")
    assert 'name="kind" value="chat"' in page
    assert ">\nYou are a {{ role }}.</textarea>" in page
    assert 'name="model" value="gpt-5"' in page
    assert 'name="temperature" type="number" value="0.2"' in page
    assert "&quot;name&quot;: &quot;get_weather&quot;" in page  # the tools as JSON, without null fields
    assert "strict" not in page.split('id="id_tools"')[1].split("</textarea>")[0]
    unchanged = {
        **chat_form(("system", "You are a {{ role }}."), ("user", "Greet {{ name }}."), variables=["role", "name"]),
        "model": "gpt-5",
        "temperature": "0.2",
        "tools": json.dumps([WEATHER_TOOL]),
        "base_version": "1",
    }
    refused = text_of(web.post(f"/dashboard/{p.prompt_id}/edit/", unchanged))
    assert "Nothing to save: the messages, variables and settings are the same as version 1." in refused
    changed = {**unchanged, "temperature": "0.7", "message_content": ["You are a {{ role }}.", "Welcome {{ name }}."]}
    response = web.post(f"/dashboard/{p.prompt_id}/edit/", changed)
    assert response.status_code == 302, text_of(response)[:2000]
    v2 = selectors.prompt_version_get(prompt_id=p.prompt_id, version=2)
    assert v2.messages[1] == {"role": "user", "content": "Welcome {{ name }}."}
    assert (v2.settings["temperature"], v2.settings["model"]) == (0.7, "gpt-5")
    older = assert_page(web.get(f"/dashboard/{p.prompt_id}/edit/?from=1"))
    assert ">\nGreet {{ name }}.</textarea>" in older
    assert 'name="temperature" type="number" value="0.2"' in older


def test_a_chat_conflict_keeps_the_messages_and_shows_their_change(web):
    p = make_chat({"temperature": 0.2})
    services.prompt_update(
        prompt_id=p.prompt_id,
        messages=[
            {"role": "system", "content": "You are a {{ role }}."},
            {"role": "user", "content": "Hey {{ name }}"},
        ],
        variables=["role", "name"],
        settings={"temperature": 0.9},
        version=1,
        created_by="bob",
    )
    mine = chat_form(
        ("system", "You are a {{ role }}."), ("user", "Hello there {{ name }}"), variables=["role", "name"]
    )
    response = web.post(f"/dashboard/{p.prompt_id}/edit/", {**mine, "base_version": "1"}, headers=hx("prompt-form"))
    body = assert_partial(response, "prompt-form", status=409)
    assert "Someone saved a newer version while you were editing" in body
    assert ">\nHello there {{ name }}</textarea>" in body
    assert "Temperature" in body  # bob changed a setting
    assert len(selectors.prompt_versions_list(prompt_id=p.prompt_id)) == 2


def test_the_version_page_of_a_chat_prompt(web):
    p = make_chat({"model": "gpt-5", "reasoning": {"effort": "low"}})
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/"), "preview-output")
    assert 'Messages <span class="muted">(2)</span> and preview' in page
    assert '<span class="role role-system">system</span>' in page
    assert "<code>gpt-5</code>" in page
    assert "Reasoning" in page
    assert "&quot;effort&quot;: &quot;low&quot;" in page
    # The snippet: no model, since the version has one.
    snippet = html.unescape(page.split('<pre class="code-block"><code>from openai')[1].split("</code></pre>")[0])
    assert "model=" not in snippet
    assert f'"id": "{p.prompt_id}"' in snippet
    assert '"version": "1"' in snippet
    assert '"role": "…",' in snippet
    # The preview renders every message, marking filled and missing values.
    url = f"/dashboard/{p.prompt_id}/versions/1/preview/"
    body = assert_partial(web.post(url, {"var_role": "<i>pirate</i>"}, headers=hx("preview-output")), "preview-output")
    assert '<mark class="filled" title="role">&lt;i&gt;pirate&lt;/i&gt;</mark>' in body
    assert '<mark class="missing" title="No value for name">{{ name }}</mark>' in body
    assert body.count('class="message-card"') == 2
    assert "Missing 1 value" in body
    text_prompt = make()
    plain = text_of(web.get(f"/dashboard/{text_prompt.prompt_id}/"))
    assert 'model="your-model",' in html.unescape(plain)
    assert "None set: the request decides" in plain


def test_compare_chat_versions(web):
    p = make_chat({"model": "gpt-5", "temperature": 0.2})
    services.prompt_update(
        prompt_id=p.prompt_id,
        messages=[
            {"role": "developer", "content": "You are a {{ role }}."},
            {"role": "user", "content": "Greet {{ name }} warmly."},
        ],
        variables=["role", "name"],
        settings={"model": "gpt-5", "temperature": 0.7, "top_p": 0.5},
        version=1,
    )
    page = assert_page(web.get(f"/dashboard/{p.prompt_id}/diff/?from=1&to=2"), "diff-view")
    assert re.search(r"<ins>\s?warmly\s?</ins>", page)
    assert '<del class="role role-system"><span class="visually-hidden">role was </span>system</del>' in page
    assert '<ins class="role role-developer">' in page
    assert '<del><span class="visually-hidden">was </span>0.2</del>' in page
    assert '<ins><span class="visually-hidden">now </span>0.7</ins>' in page
    assert '<span class="badge badge-added">added</span>' in page  # top_p
    assert "Unchanged: <code>model</code>." in page
    assert "in 2 messages" in page
    assert "2 settings changed" in page
    same = text_of(web.get(f"/dashboard/{p.prompt_id}/diff/?from=1&to=1", headers=hx("diff-view")))
    assert "Pick two different versions" in same


def test_chat_text_and_settings_are_escaped_everywhere(web, admin_client):
    evil = "<script>alert(1)</script> {{ doc }}"
    p = services.prompt_create(
        messages=[{"role": "user", "content": evil}],
        variables=["doc"],
        settings=settings_given(
            {"model": "<img src=x onerror=alert(2)>", "tools": [{**WEATHER_TOOL, "description": "<script>alert(4)"}]}
        ),
    )
    services.prompt_update(
        prompt_id=p.prompt_id, messages=[{"role": "user", "content": evil + "!"}], variables=["doc"], version=1
    )
    pages = [
        web.get(f"/dashboard/{p.prompt_id}/?version=1"),
        web.get(f"/dashboard/{p.prompt_id}/edit/?from=1"),
        web.get(f"/dashboard/{p.prompt_id}/diff/?from=1&to=2"),
        web.post(f"/dashboard/{p.prompt_id}/versions/1/preview/", {"var_doc": "<script>alert(3)</script>"}),
        web.post("/dashboard/new/", chat_form(("user", evil), tools="<script>alert(5)</script>")),
        admin_client.get(f"/admin/prompts/prompt/{p.prompt_id}/change/"),
    ]
    for response in pages:
        body = text_of(response)
        assert response.status_code == 200, body[:500]
        for raw in ("<script>alert", "<img src=x"):
            assert raw not in body, (response.request["PATH_INFO"], raw)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(pages[0])
