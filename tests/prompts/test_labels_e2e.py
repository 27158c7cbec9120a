"""Labels, promotion and the history in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against
a real `stackadmin run` server with authentication on and `production` protected. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import make_people
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
LIVE_MS = 1500  # live updates show within a second; a little slack for a busy shared CI machine
CONFIG = """
server:
  auth: {enabled: true}
prompts:
  protected_labels: [production]
"""
PASSWORD = "pw-labels-e2e"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("labels-e2e")
    (home / "run.yaml").write_text(CONFIG)
    live = LiveServer(home, str(home / "run.yaml"))
    live.keys = make_people(
        live,
        {
            "maria": {"password": PASSWORD, "attributes": {"teams": ["support"]}},  # owns the prompt: may promote
            "carol": {"password": PASSWORD, "attributes": {"teams": ["support"]}},  # may update it, not promote
        },
    )
    yield live
    live.stop()


@pytest.fixture
def open_page(browser, server):
    """`open_page(**context_options)`: a page signed in as maria, in a new browser context (its own cookies)."""
    contexts = []
    errors: list[str] = []

    def open_(**options):
        context = browser.new_context(viewport=LAPTOP, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/dashboard/")
        page.fill("#id_username", "maria")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/dashboard/")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def api(server, user: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/v1", headers={"Authorization": f"Bearer {server.keys[user]}"}, timeout=30
    )


def shot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def wait_live(page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")


def test_promote_a_version_and_read_the_moves_in_activity(open_page, server):
    from playwright.sync_api import expect

    # --- a prompt with two versions; production on version 1 (through the API, as the owner)
    with api(server, "maria") as maria:
        pid = maria.post("/prompts", json={"prompt": "Hello {{ name }}.", "variables": ["name"]}).json()["prompt_id"]
        maria.put(
            f"/prompts/{pid}",
            json={
                "prompt": "Hello {{ name }}, welcome back!",
                "variables": ["name"],
                "version": 1,
                "message": "warmer",
            },
        ).raise_for_status()
        maria.put(f"/prompts/{pid}/labels/default", json={"version": 1}).raise_for_status()
        maria.put(f"/prompts/{pid}/labels/production", json={"version": 1}).raise_for_status()

    page = open_page()
    watcher = open_page()
    watcher.goto(f"{server.url}/dashboard/{pid}/")
    wait_live(watcher)
    watcher.evaluate("window.__noReload = true")

    page.goto(f"{server.url}/dashboard/{pid}/?version=2")
    status = page.locator("#version-status")
    panel = page.locator("#label-form")
    timeline = page.locator("#version-list")
    version_one = timeline.locator(".timeline-item", has_text="Version 1")
    version_two = timeline.locator(".timeline-item", has_text="Version 2")
    expect(version_one.locator(".badge-protected")).to_have_text(re.compile("production"))
    expect(version_one.locator(".badge-protected")).to_have_attribute("title", re.compile("protected", re.I))

    # --- label version 2 "staging" with the small form (existing labels are suggested)
    assert page.locator("#label-suggestions option").evaluate_all("os => os.map(o => o.value)") == ["production"]
    page.fill("#label-name", "staging")
    page.fill("#label-message", "try the new greeting")
    panel.get_by_role("button", name="Move label here").click()
    expect(panel.locator(".label-notice")).to_have_text("'staging' now points at version 2.")
    expect(status.locator(".label-list")).to_contain_text("staging")
    expect(version_two.locator(".badge-label", has_text="staging")).to_be_visible()
    first_event = timeline.locator(".timeline-event").first
    expect(first_event).to_contain_text("maria moved staging (new) → v2")
    expect(first_event).to_contain_text("try the new greeting")

    # --- promote it to production (protected: maria owns the prompt, so she may)
    page.fill("#label-message", "ship it")
    panel.get_by_role("button", name=re.compile("^Promote to production")).click()
    expect(panel.locator(".label-notice")).to_have_text("'production' now points at version 2.")
    expect(version_two.locator(".badge-protected")).to_have_text(re.compile("production"))
    expect(version_one.locator(".badge-protected")).to_have_count(0)
    expect(first_event).to_contain_text(re.compile(r"maria\s+moved\s+production\s+(\(protected\)\s+)?v1 → v2"))
    expect(first_event).to_contain_text("ship it")
    expect(panel.get_by_role("button", name=re.compile("^Promote to"))).to_have_count(0)
    shot(page, "prompt-labels")

    # The watcher's timeline follows, without a reload.
    watched_two = watcher.locator("#version-list .timeline-item", has_text="Version 2")
    expect(watched_two.locator(".badge-protected")).to_have_text(re.compile("production"), timeout=LIVE_MS)
    # A teammate's refused promotion (through the API) reaches it too: the history changed.
    with api(server, "carol") as carol:
        assert carol.put(f"/prompts/{pid}/labels/production", json={"version": 1}).status_code == 403
    expect(watcher.locator("#version-list .timeline-event").first).to_contain_text(
        "carol was refused moving production", timeout=LIVE_MS
    )
    assert watcher.evaluate("window.__noReload === true")

    # --- deleting version 2 is refused while labels point at it: the service's 409, in the confirmation
    status.get_by_role("link", name="Delete version 2…").click()
    confirm = page.locator("#version-delete-confirm")
    expect(confirm).to_contain_text(f"Delete version 2 of {pid}?")
    confirm.get_by_role("button", name="Delete version 2").click()
    expect(confirm.locator(".notice-error")).to_contain_text(
        "cannot be deleted while 'production', 'staging' point at it"
    )
    shot(page, "version-delete-refused")

    # --- the Activity page: who moved what from where to where, and why
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    expect(page).to_have_url(f"{server.url}/dashboard/activity/")
    rows = page.locator("#history-list .history-item")
    expect(rows.first).to_contain_text("carol was refused moving production")
    moves = page.locator("#history-list .history-item.event-label_moved")
    expect(moves).to_have_count(3)
    expect(moves.nth(0)).to_contain_text(re.compile(r"maria\s+moved\s+production\s+(\(protected\)\s+)?v1 → v2"))
    expect(moves.nth(0)).to_contain_text("via dashboard")
    expect(moves.nth(0).locator(".history-message")).to_have_text("ship it")
    expect(moves.nth(1)).to_contain_text("maria moved staging (new) → v2")
    expect(moves.nth(1).locator(".history-message")).to_have_text("try the new greeting")
    expect(moves.nth(2)).to_contain_text(re.compile(r"maria\s+moved\s+production\s+(\(protected\)\s+)?\(new\) → v1"))
    expect(moves.nth(2)).to_contain_text("via api key sk-sa-")
    expect(moves.nth(0).get_by_role("link")).to_have_attribute("href", f"/dashboard/{pid}/")
    shot(page, "activity")

    # Filtering swaps the list and keeps the filter in the address.
    page.select_option("#filter-action", "label_moved")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"action=label_moved"))
    page.fill("#filter-actor", "carol")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#history-list")).to_contain_text("Nothing matches these filters")

    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/dashboard/activity/")
    shot(page, "activity-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the Activity page scrolls sideways on a phone ({width}px)"
    page.goto(f"{server.url}/dashboard/{pid}/?version=2")
    shot(page, "prompt-labels-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the prompt page scrolls sideways on a phone ({width}px)"


def test_labels_and_activity_work_without_javascript(open_page, server):
    from playwright.sync_api import expect

    with api(server, "maria") as maria:
        pid = maria.post("/prompts", json={"prompt": "No script here"}).json()["prompt_id"]
        maria.put(f"/prompts/{pid}", json={"prompt": "Still none", "version": 1, "set_as_default": False})
    page = open_page(java_script_enabled=False)
    page.goto(f"{server.url}/dashboard/{pid}/?version=2")
    page.fill("#label-name", "beta")
    page.get_by_role("button", name="Move label here").click()
    expect(page.locator(".messages")).to_contain_text("'beta' now points at version 2.")
    page.get_by_role("button", name="Remove the label beta").click()
    expect(page.locator(".messages")).to_contain_text("Removed the label 'beta'.")
    page.get_by_role("link", name="Delete version 2…").click()
    page.get_by_role("button", name="Delete version 2").click()
    expect(page.locator(".messages")).to_contain_text(f"Deleted version 2 of {pid}.")
    page.goto(f"{server.url}/dashboard/activity/")
    page.fill("#filter-label", "beta")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"label=beta"))
    expect(page.locator("#history-list .history-item")).to_have_count(2)
    expect(page.locator("#history-list .history-item").first).to_contain_text("maria removed beta from v2")
