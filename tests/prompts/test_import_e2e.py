"""The dashboard's Import page and Export button in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright) against a real `stackadmin run` server: an archive of two prompts previewed, imported without choosing
the file again, read on the prompt pages, previewed again as skipped; an invalid file that imports nothing; the
same page without JavaScript; and the Export download. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
CREATED_AT = 1764498000.5  # 2025-11-30: the versions keep it


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("import-e2e"))
    yield live
    live.stop()


@pytest.fixture
def open_page(browser, server):
    """`open_page(**context_options)`: a page signed in as the admin, in a new browser context (its own cookies)."""
    contexts = []
    errors: list[str] = []

    def open_(**options):
        context = browser.new_context(viewport=LAPTOP, accept_downloads=True, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/dashboard/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", server.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/dashboard/")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def new_id() -> str:
    return "pmpt_" + secrets.token_hex(24)


def version(number: int, text: str, variables: list[str], message: str | None = None) -> dict:
    return {
        "version": number,
        "prompt": text,
        "messages": None,
        "variables": variables,
        "settings": {},
        "created_at": CREATED_AT + number,
        "created_by": "ada",
        "message": message,
        "deleted": False,
    }


def archive(path: Path, *prompts: dict) -> Path:
    path.write_text(json.dumps({"format": "stackadmin.prompts", "version": 1, "prompts": list(prompts)}))
    return path


def text_prompt(prompt_id: str, *texts: str) -> dict:
    return {
        "prompt_id": prompt_id,
        "default": len(texts),
        "labels": {},
        "owner_principal": "ada",
        "access_attributes": None,
        "versions": [version(n, t, ["name"], f"step {n}") for n, t in enumerate(texts, start=1)],
    }


def stored_ids(server) -> list[str]:
    body = httpx.get(server.url + "/v1/prompts", timeout=30).json()
    return sorted(p["prompt_id"] for p in body["data"])


def test_preview_then_import_then_read_them(open_page, server, tmp_path):
    from playwright.sync_api import expect

    greeting, question = new_id(), new_id()
    two = archive(
        tmp_path / "two prompts.json",
        text_prompt(greeting, "Hello {{ name }}", "Hello {{ name }}, welcome!"),
        text_prompt(question, "What does {{ name }} want?"),
    )
    page = open_page()
    page.get_by_role("link", name="Import…").click()
    expect(page).to_have_url(f"{server.url}/dashboard/import/")
    page.set_input_files("#import-archive", str(two))
    page.get_by_role("button", name="Preview").click()
    result = page.locator("#import-result")
    expect(result.locator(".import-dry-run")).to_contain_text("Preview of two prompts.json: nothing has been written")
    expect(result.locator(".import-row")).to_have_count(2)
    expect(result.locator(f'tr[data-prompt-id="{greeting}"] .import-action')).to_have_text(
        re.compile("new prompt\\s+versions 1\u20132")
    )
    expect(result.locator(f'tr[data-prompt-id="{question}"] .import-action')).to_have_text(
        re.compile(r"new prompt\s+version 1\s*$")
    )
    expect(result).not_to_contain_text("choose the file again")
    assert greeting not in stored_ids(server)
    shot(page, "import-preview")

    # --- Import, with the file still chosen
    page.get_by_role("button", name="Import", exact=True).click()
    expect(result.locator(".import-done")).to_have_text("Imported two prompts.json.")
    expect(result.locator(".import-summary")).to_contain_text("2 new prompts, 0 with new versions, 0 skipped")
    assert {greeting, question} <= set(stored_ids(server))
    shot(page, "import-done")

    # --- the prompt page shows both versions, their author, and who imported them
    result.get_by_role("link", name=greeting).click()
    expect(page).to_have_url(f"{server.url}/dashboard/{greeting}/")
    expect(page.locator("#version-heading")).to_have_text("Version 2")
    timeline = page.locator("#version-list")
    expect(timeline.locator(".timeline-item")).to_have_count(2)
    imported = timeline.locator(".timeline-event.event-imported")
    expect(imported).to_have_count(2)
    expect(imported.first).to_contain_text(re.compile(r"ada\s+imported version 2"))
    expect(imported.first).to_contain_text("via dashboard import by admin")
    expect(page.locator("#prompt-workspace")).to_contain_text("Hello {{ name }}, welcome!")

    # --- the same file again: both skipped
    page.goto(f"{server.url}/dashboard/import/")
    page.set_input_files("#import-archive", str(two))
    page.get_by_role("button", name="Preview").click()
    expect(result.locator(".import-skipped")).to_have_count(2)
    expect(result.locator(f'tr[data-prompt-id="{greeting}"] .import-action')).to_have_text(
        re.compile(r"skipped\s+already imported")
    )

    # --- an invalid file: the error, and nothing imported
    third = new_id()
    bad = text_prompt(third, "Hi {{ who }}")  # `who` is not declared
    broken = archive(tmp_path / "broken.json", bad)
    page.set_input_files("#import-archive", str(broken))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(result.locator(".import-held-back")).to_contain_text("Nothing was imported.")
    problem = result.locator(f'tr[data-prompt-id="{third}"] .import-problem')
    expect(problem).to_contain_text(f"broken.json: prompt {third} version 1:")
    expect(problem).to_contain_text("who")
    assert third not in stored_ids(server)
    shot(page, "import-invalid")

    page.set_viewport_size(PHONE)
    shot(page, "import-invalid-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the Import page scrolls sideways on a phone ({width}px)"


def test_import_without_javascript(open_page, server, tmp_path):
    from playwright.sync_api import expect

    pid = new_id()
    one = archive(tmp_path / "one.json", text_prompt(pid, "Plain {{ name }}"))
    page = open_page(java_script_enabled=False)
    page.goto(f"{server.url}/dashboard/import/")
    expect(page.locator(".import-noscript")).to_contain_text("the file has to be chosen again")
    page.set_input_files("#import-archive", str(one))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".import-dry-run")).to_contain_text("To import it, choose the file again above")
    expect(page.locator(f'tr[data-prompt-id="{pid}"]')).to_contain_text("new prompt")
    assert pid not in stored_ids(server)
    page.set_input_files("#import-archive", str(one))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".import-done")).to_have_text("Imported one.json.")
    assert pid in stored_ids(server)


def test_export_downloads_what_the_list_shows(open_page, server, tmp_path):
    from playwright.sync_api import expect

    pid = new_id()
    page = open_page()
    page.goto(f"{server.url}/dashboard/import/")
    page.set_input_files("#import-archive", str(archive(tmp_path / "x.json", text_prompt(pid, "Export {{ name }}"))))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".import-done")).to_be_visible()

    page.goto(f"{server.url}/dashboard/?q=Export")
    with page.expect_download() as caught:
        page.locator("#export-shown").click()
    download = caught.value
    assert re.fullmatch(r"prompts-\d{8}-\d{6}\.json", download.suggested_filename)
    document = json.loads(Path(download.path()).read_text())
    assert [p["prompt_id"] for p in document["prompts"]] == [pid]
    assert document["prompts"][0]["versions"][0]["created_by"] == "ada"
    with page.expect_download() as caught:
        page.locator("#export-all").click()
    everything = json.loads(Path(caught.value.path()).read_text())
    assert pid in [p["prompt_id"] for p in everything["prompts"]]
    assert len(everything["prompts"]) == len(stored_ids(server))


def test_operators_import_and_export_in_the_admin(open_page, server, tmp_path):
    from playwright.sync_api import expect

    kept, other = new_id(), new_id()
    two = archive(
        tmp_path / "for the admin.json", text_prompt(kept, "Kept owner {{ name }}"), text_prompt(other, "Other")
    )
    page = open_page()
    page.goto(f"{server.url}/admin/prompts/prompt/")
    page.locator(".object-tools").get_by_role("link", name="Import").click()
    expect(page).to_have_url(f"{server.url}/admin/prompts/prompt/import/")
    expect(page.locator("#import-keep-owners")).to_be_checked()
    page.set_input_files("#import-archive", str(two))
    page.get_by_role("button", name="Preview").click()
    result = page.locator("#import-result")
    expect(result.locator(".import-dry-run")).to_contain_text("nothing has been written yet")
    expect(result.locator(".import-row")).to_have_count(2)
    page.get_by_role("button", name="Import", exact=True).click()  # the file is still chosen
    expect(result.locator(".import-done")).to_have_text("Imported for the admin.json.")
    shot(page, "admin-import")
    prompts = {p["prompt_id"]: p for p in httpx.get(server.url + "/v1/prompts", timeout=30).json()["data"]}
    assert prompts[kept]["version"] == 1

    # --- export the ticked prompt only
    page.goto(f"{server.url}/admin/prompts/prompt/")
    page.get_by_role("checkbox", name=f"Select {kept}").check()
    with page.expect_download() as caught:
        page.get_by_role("button", name="Export selected").click()
    document = json.loads(Path(caught.value.path()).read_text())
    assert [(p["prompt_id"], p["owner_principal"]) for p in document["prompts"]] == [(kept, "ada")]
