"""The dashboard's Import page and Export button, and the admin's Import and Export, over the real services: the
dry run and the import (as a page and as the htmx partial), invalid files, the size limit, CSRF, the access policy
on existing prompts, and downloads that hold only what the user may read."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

import pytest

from apps.accounts import services as accounts
from apps.core.principal import Principal
from apps.prompts import selectors, services
from tests.support.dashboard import assert_page, assert_partial, flat, hx, text_of
from tests.support.prompt_archives import export_text, two_prompts_archive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Where uploads are saved while they are read (tempfile's directory), to see that none is left behind."""
    import tempfile

    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def upload(text: str, name: str = "my prompts.json", **fields) -> dict:
    return {"archive": SimpleUploadedFile(name, text.encode()), "on_conflict": "new-version", **fields}


def rows(body: str) -> dict[str, str]:
    """The result table's rows, by prompt id (or "file" for a problem of the whole file), as text."""
    found = re.findall(r'<tr class="import-row[^"]*"(?: data-prompt-id="([^"]+)")?>(.*?)</tr>', body, re.S)
    return {pid or "file": flat(row) for pid, row in found}


def only(archive: str, prompt_id: str, *, versions: int | None = None) -> str:
    """`archive` with only the prompt `prompt_id` (and only its first `versions` versions)."""
    document = json.loads(archive)
    [prompt] = [p for p in document["prompts"] if p["prompt_id"] == prompt_id]
    if versions is not None:
        prompt = {**prompt, "default": 1, "labels": {}, "versions": prompt["versions"][:versions], "history": []}
    return json.dumps({**document, "prompts": [prompt]})


def ids() -> list[str]:
    return sorted(s.prompt_id for s in selectors.prompt_list().data)


# ------------------------------------------------------------------------------------------ import
def test_the_list_links_to_the_import_page(web):
    assert 'href="/dashboard/import/"' in assert_page(web.get("/dashboard/"))
    page = assert_page(web.get("/dashboard/import/"), "import-form", "import-result", "import-archive")
    assert 'enctype="multipart/form-data"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "the file has to be chosen again" in page  # said to browsers without JavaScript


def test_preview_then_import(web, private_tmp):
    archive, text_id, chat_id = two_prompts_archive()
    preview = assert_partial(
        web.post("/dashboard/import/", upload(archive, action="preview"), headers=hx("import-result")), "import-result"
    )
    assert "nothing has been written yet" in preview
    assert "choose the file again" not in preview  # with htmx the file stays chosen
    assert rows(preview) == {
        text_id: f"{text_id} my prompts.json new prompt versions 1\u20132 none",
        chat_id: f"{chat_id} my prompts.json new prompt version 1 none",
    }
    assert ids() == []
    done = assert_partial(
        web.post("/dashboard/import/", upload(archive, action="import"), headers=hx("import-result")), "import-result"
    )
    assert "Imported my prompts.json." in done
    assert "2 new prompts, 0 with new versions, 0 skipped, 0 with problems" in flat(done)
    assert f'href="/dashboard/{text_id}/"' in done
    assert ids() == sorted([text_id, chat_id])
    versions = selectors.prompt_versions_list(prompt_id=text_id)
    assert [(v.version, v.prompt, v.created_by, v.owner_principal) for v in versions] == [
        (1, "Hello {{ name }}", "ada", "alice"),  # the author stays; the archive's owner does not: alice imported it
        (2, "Hi {{ name }}!", "ada", "alice"),
    ]
    entries = selectors.prompt_history(prompt_id=text_id, limit=10).data
    assert {(e.action, e.actor, e.via, e.message) for e in entries if e.action == "imported"} == {
        ("imported", "ada", "dashboard import by alice", "imported from my prompts.json")
    }
    assert ("created", "ada") in {(e.action, e.actor) for e in entries}  # the archive's own history came along
    assert list(private_tmp.iterdir()) == []  # the saved upload is gone


def test_a_second_import_of_the_same_file_is_skipped(web):
    archive, text_id, _ = two_prompts_archive()
    web.post("/dashboard/import/", upload(archive, action="import"))
    again = assert_page(web.post("/dashboard/import/", upload(archive, action="preview")), "import-form")
    assert rows(again)[text_id] == f"{text_id} my prompts.json skipped already imported none"
    assert "0 new prompts, 0 with new versions, 2 skipped, 0 with problems" in flat(again)
    # Without JavaScript the page comes back whole, and says that the file has to be chosen again.
    assert "To import it, choose the file again above" in again


def test_a_changed_prompt_gets_new_versions(web):
    archive, text_id, _ = two_prompts_archive()
    web.post("/dashboard/import/", upload(archive, action="import"))
    changed = archive.replace("Hi {{ name }}!", "Hey {{ name }}!")
    body = text_of(web.post("/dashboard/import/", upload(changed, action="import"), headers=hx("import-result")))
    assert rows(body)[text_id] == f"{text_id} my prompts.json new version 3 none"
    assert selectors.prompt_get(prompt_id=text_id, version=3).prompt == "Hey {{ name }}!"
    skipped = text_of(web.post("/dashboard/import/", upload(changed.replace("Hey", "Yo"), on_conflict="skip")))
    assert "skipped version 2 differs" in rows(skipped)[text_id]


def test_on_conflict_fail_imports_nothing(web):
    archive, text_id, chat_id = two_prompts_archive()
    web.post("/dashboard/import/", upload(only(archive, text_id), action="import"))
    changed = archive.replace("Hi {{ name }}!", "Hey {{ name }}!")
    body = text_of(web.post("/dashboard/import/", upload(changed, on_conflict="fail", action="import")))
    assert "A prompt conflicts with the one stored (on conflict: fail): nothing is imported." in body
    assert "its version 2 differs from the imported one" in rows(body)[text_id]
    assert "new prompt" in rows(body)[chat_id]  # had it not been for the conflict
    assert chat_id not in ids()
    preview = text_of(web.post("/dashboard/import/", upload(changed, on_conflict="fail", action="preview")))
    assert "nothing is imported" in preview


def test_an_invalid_file_says_why_and_imports_nothing(web, private_tmp):
    body = text_of(web.post("/dashboard/import/", upload("{not json", name="broken.json", action="import")))
    assert "Nothing was imported." in body
    assert "broken.json: not valid JSON" in body
    assert str(private_tmp) not in body  # the file is named as the user chose it, not where it was saved
    assert ids() == []
    unknown = text_of(web.post("/dashboard/import/", upload('{"hello": 1}', name="other.json", action="import")))
    assert "other.json: unknown format" in unknown
    assert list(private_tmp.iterdir()) == []


def test_an_invalid_prompt_holds_the_file_back_unless_skipped(web):
    archive, text_id, chat_id = two_prompts_archive()
    document = json.loads(only(archive, chat_id))
    document["prompts"][0]["versions"][0]["settings"] = {"<b>colour</b>": "blue"}
    document["prompts"].append(json.loads(only(archive, text_id))["prompts"][0])
    bad = json.dumps(document)
    body = text_of(web.post("/dashboard/import/", upload(bad, action="import")))
    assert "nothing is imported unless invalid prompts are skipped" in body
    assert "new prompt" in rows(body)[text_id]  # what would happen to the valid one, had it been skipped
    problem = rows(body)[chat_id]
    assert "invalid" in problem
    assert "my prompts.json: prompt" in problem
    assert "version 1: &#x27;&lt;b&gt;colour&lt;/b&gt;&#x27; is not a model setting" in problem  # escaped
    assert "<b>colour</b>" not in body
    assert ids() == []
    skipping = text_of(web.post("/dashboard/import/", upload(bad, action="import", skip_invalid="on")))
    assert "Imported my prompts.json." in skipping
    assert ids() == [text_id]


@pytest.mark.parametrize("padding", [0, 100_000], ids=["found-while-read", "announced"])
def test_a_file_over_the_limit_is_refused(web, settings, padding):
    """Refused from its Content-Length before anything is parsed, or by the upload handler once it is over."""
    archive, _, _ = two_prompts_archive()
    settings.STACKADMIN_IMPORT_MAX_BYTES = 200
    archive = archive + " " * padding
    response = web.post("/dashboard/import/", upload(archive, action="import"), headers=hx("import-result"))
    body = assert_partial(response, "import-result", status=413)
    assert "larger than the 200\xa0bytes an import from this page may be" in body
    assert ids() == []


def test_no_file_is_a_form_error(web):
    response = web.post("/dashboard/import/", {"on_conflict": "skip", "action": "preview"})
    assert response.status_code == 400
    assert "Choose a file to import." in text_of(response)


def test_import_needs_the_csrf_token(alice):
    archive, text_id, _ = two_prompts_archive()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    page = text_of(strict.get("/dashboard/import/"))
    assert strict.post("/dashboard/import/", upload(archive, action="import")).status_code == 403
    assert ids() == []
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = strict.post("/dashboard/import/", {**upload(archive, action="import"), "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert text_id in ids()


def test_import_needs_a_signed_in_user(client):
    archive, _, _ = two_prompts_archive()
    response = client.post("/dashboard/import/", upload(archive, action="import"))
    assert response.status_code == 302
    assert ids() == []


def _team_users(django_user_model, **teams: list[str]) -> dict:
    users = {}
    for name, names in teams.items():
        users[name] = django_user_model.objects.create_user(name, password="pw-123456789")
        accounts.access_attributes_set(user=users[name], teams=names)
    return users


def test_versions_for_someone_elses_prompt_are_refused_per_prompt(settings, client, django_user_model, tmp_path):
    settings.STACKADMIN_AUTH_ENABLED = True
    users = _team_users(django_user_model, alice=["red"], bob=["blue"])
    archive, text_id, chat_id = two_prompts_archive()
    bob = Principal("bob", {"teams": ["blue"]})
    # bob's store already holds the text prompt (imported as his); alice's archive has one more version of it.
    first = only(archive, text_id, versions=1)
    bob_file = tmp_path / "bob.json"
    bob_file.write_text(first)
    services.prompts_import(paths=[bob_file], principal=bob)
    assert selectors.prompt_dump(prompt_id=text_id).versions[0].owner_principal == "bob"

    client.force_login(users["alice"])
    body = text_of(client.post("/dashboard/import/", upload(archive, action="import")))
    refusal = f"You may not add versions to prompt &#x27;{text_id}&#x27;."
    assert rows(body)[text_id] == f"{text_id} my prompts.json refused {refusal}"
    assert rows(body)[chat_id].startswith(f"{chat_id} my prompts.json new prompt")  # the other prompt is imported
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=text_id)] == [1]
    assert selectors.prompt_dump(prompt_id=chat_id).versions[0].owner_principal == "alice"
    # Nor does a preview say whether bob's prompt holds the same content.
    preview = text_of(client.post("/dashboard/import/", upload(first, action="preview")))
    assert "refused" in rows(preview)[text_id]
    assert "already imported" not in preview


# ------------------------------------------------------------------------------------------ export
async def _joined(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def download(response) -> str:
    """The body of a streamed download, read as the ASGI server reads it: an async iterator (a sync one would be
    read whole into memory before the first byte is sent)."""
    from asgiref.sync import async_to_sync

    assert response.status_code == 200, response
    assert response.is_async
    return async_to_sync(_joined)(response.streaming_content).decode()


def test_the_list_offers_the_export(web):
    services.prompt_create(text="Summarise {{ doc }}", variables=["doc"])
    page = assert_page(web.get("/dashboard/"))
    assert 'id="export-all" href="/dashboard/export/"' in page
    assert "export-shown" not in page
    searched = assert_partial(web.get("/dashboard/", {"q": "sum & more"}, headers=hx("prompt-list")), "prompt-list")
    assert "No prompt matches" in searched  # nothing to export: no buttons
    searched = assert_partial(web.get("/dashboard/", {"q": "summ"}, headers=hx("prompt-list")), "prompt-list")
    assert 'id="export-shown" href="/dashboard/export/?q=summ"' in searched


def test_export_downloads_every_prompt_in_the_commands_format(web):
    archive, _, chat_id = two_prompts_archive()
    web.post("/dashboard/import/", upload(archive, action="import"))
    response = web.get("/dashboard/export/")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="prompts-\d{8}-\d{6}\.json"', response["Content-Disposition"])
    assert download(response) == export_text()  # byte for byte what `stackadmin prompts export` writes
    shown = json.loads(download(web.get("/dashboard/export/", {"q": "answer"})))
    assert [p["prompt_id"] for p in shown["prompts"]] == [chat_id]


def test_export_of_an_empty_list_is_an_empty_archive(web):
    assert json.loads(download(web.get("/dashboard/export/"))) == {
        "format": "stackadmin.prompts",
        "prompts": [],
        "version": 1,
    }


def test_export_leaves_out_what_the_user_may_not_read(settings, client, django_user_model):
    settings.STACKADMIN_AUTH_ENABLED = True
    users = _team_users(django_user_model, alice=["red"], bob=["blue"], carol=["red"])
    mine = services.prompt_create(text="alice's own", principal=Principal("alice", {"teams": ["red"]}))
    theirs = services.prompt_create(text="bob's secret", principal=Principal("bob", {"teams": ["blue"]}))
    client.force_login(users["alice"])
    body = download(client.get("/dashboard/export/"))
    assert [p["prompt_id"] for p in json.loads(body)["prompts"]] == [mine.prompt_id]
    assert theirs.prompt_id not in body
    assert "bob's secret" not in body
    assert download(client.get("/dashboard/export/", {"q": "bob's secret"})).count("prompt_id") == 0
    client.force_login(users["carol"])  # shares alice's team, so she may read (and export) alice's prompt
    assert mine.prompt_id in download(client.get("/dashboard/export/"))


def test_export_needs_a_signed_in_user(client):
    services.prompt_create(text="private")
    response = client.get("/dashboard/export/")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login/")


# ------------------------------------------------------------------------------------------ the admin
def test_admin_changelist_offers_import_and_export(admin_client):
    services.prompt_create(text="one")
    page = text_of(admin_client.get("/admin/prompts/prompt/"))
    assert 'href="/admin/prompts/prompt/import/"' in page
    assert 'id="export-all"' in page
    assert 'name="prompt"' in page  # a box to tick per prompt, for "Export selected"
    assert 'id="import-form"' in text_of(admin_client.get("/admin/prompts/prompt/import/"))


def test_admin_import_keeps_the_archives_owners(admin_client, admin_user):
    archive, text_id, _ = two_prompts_archive(owner="ada")
    preview = text_of(
        admin_client.post("/admin/prompts/prompt/import/", upload(archive, action="preview", keep_owners="on"))
    )
    assert "nothing has been written yet" in preview
    assert "To import it, choose the file again above" in preview
    assert ids() == []
    done = admin_client.post(
        "/admin/prompts/prompt/import/", upload(archive, action="import", keep_owners="on"), headers=hx("import-result")
    )
    body = assert_partial(done, "import-result")
    assert "Imported my prompts.json." in body
    assert f'href="/admin/prompts/prompt/{text_id}/change/"' in body
    assert selectors.prompt_dump(prompt_id=text_id).versions[0].owner_principal == "ada"
    entries = selectors.prompt_history(prompt_id=text_id, limit=10).data
    assert {e.via for e in entries if e.action == "imported"} == {f"admin import by {admin_user.username}"}


def test_admin_import_can_make_the_operator_the_owner(admin_client, admin_user):
    archive, text_id, _ = two_prompts_archive(owner="ada")
    admin_client.post("/admin/prompts/prompt/import/", upload(archive, action="import"))  # keep_owners unticked
    assert selectors.prompt_dump(prompt_id=text_id).versions[0].owner_principal == admin_user.username


def test_admin_import_adds_to_anyones_prompt(settings, admin_client, tmp_path):
    settings.STACKADMIN_AUTH_ENABLED = True
    archive, text_id, _ = two_prompts_archive()
    bob_file_text = only(archive, text_id, versions=1)
    bob_file = tmp_path / "bob.json"
    bob_file.write_text(bob_file_text)
    services.prompts_import(paths=[bob_file], principal=Principal("bob"))
    assert selectors.prompt_dump(prompt_id=text_id).versions[0].owner_principal == "bob"
    body = text_of(admin_client.post("/admin/prompts/prompt/import/", upload(only(archive, text_id), action="import")))
    assert "new version 2" in rows(body)[text_id]
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=text_id)] == [1, 2]


def test_admin_import_checks_csrf_and_staff(admin_user, client, alice):
    archive, _, _ = two_prompts_archive()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post("/admin/prompts/prompt/import/", upload(archive, action="import")).status_code == 403
    client.force_login(alice)  # not staff
    assert client.post("/admin/prompts/prompt/import/", upload(archive, action="import")).status_code == 302
    assert ids() == []


def test_admin_export_all_or_the_selected(admin_client):
    archive, _, chat_id = two_prompts_archive()
    admin_client.post("/admin/prompts/prompt/import/", upload(archive, action="import", keep_owners="on"))
    response = admin_client.get("/admin/prompts/prompt/export/")
    assert response["Content-Disposition"].startswith('attachment; filename="prompts-')
    assert download(response) == export_text()
    selected = json.loads(
        download(admin_client.get("/admin/prompts/prompt/export/", {"selected": "1", "prompt": [chat_id]}))
    )
    assert [p["prompt_id"] for p in selected["prompts"]] == [chat_id]
    nothing = admin_client.get("/admin/prompts/prompt/export/", {"selected": "1"})
    assert nothing.status_code == 302
    assert "Tick the prompts to export first." in text_of(admin_client.get(nothing["Location"]))


# ------------------------------------------------------------------------------------------ other formats
DATA = Path(__file__).parent / "data"


def test_a_llama_stack_kvstore_uploads_like_any_archive(web):
    """An SQLite file is recognised by its content whatever its name (read by apps.prompts.transfer)."""
    db = (DATA / "llama-stack-0.7.3-kvstore.db").read_bytes()
    upload_db = {"archive": SimpleUploadedFile("kvstore.db", db), "on_conflict": "new-version", "action": "import"}
    body = text_of(web.post("/dashboard/import/", upload_db, headers=hx("import-result")))
    found = rows(body)
    assert found["pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280"] == (
        "pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280 kvstore.db · llama-stack 0.7 KV store new prompt "
        "versions 1\u20133 none"
    )
    assert len(ids()) == 2


def test_a_langfuse_export_shows_the_prompts_names_and_notes(web):
    from apps.prompts.sources import langfuse_prompt_id

    text = (DATA / "langfuse_prompts.json").read_text()
    body = text_of(web.post("/dashboard/import/", upload(text, name="langfuse.json", action="preview")))
    critic = rows(body)[langfuse_prompt_id("movie-critic")]
    assert "langfuse.json · Langfuse prompt &#x27;movie-critic&#x27;" in critic
    assert "config keys not carried over (not model settings): supported_languages" in critic
    assert ids() == []
