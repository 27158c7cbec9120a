"""The prompts dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real
`stackadmin run` server. Screenshots of the main pages go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support.inference import provider_yaml
from tests.support.live_server import LiveServer
from tests.support.live_updates import redis_events_config

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Live updates must show within a second; a little slack for a busy shared CI machine.
LIVE_MS = 1500


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh installation, so the first page is the empty state."""
    live = LiveServer(tmp_path_factory.mktemp("dashboard-home"))
    yield live
    live.stop()


@pytest.fixture
def open_page(browser, server):
    """`open_page(**context_options)`: a signed-in page in a new browser context (its own cookies)."""
    contexts = []
    errors: list[str] = []

    def open_(*, sign_in: bool = True, **options):
        context = browser.new_context(viewport=LAPTOP, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        if sign_in:
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


def shot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def wait_live(page) -> None:
    """Until the page's websocket is open (the header says "Live")."""
    from playwright.sync_api import expect

    expect(page.locator("#live-status")).to_have_attribute("data-state", "on")


def settled(page) -> None:
    """Until htmx has finished every request, swap and settle (new content is wired up only then)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )


def mark_document(page) -> None:
    """Tag the loaded document; `still_same_document` then proves an update came without a reload."""
    page.evaluate("window.__noReload = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.__noReload === true")


def prompt_id_of(page) -> str:
    return re.search(r"/dashboard/(pmpt_[0-9a-f]{48})/", page.url).group(1)


def test_edit_prompt_versions_with_a_live_second_page(open_page, server):
    from playwright.sync_api import expect

    # --- signing in, and the empty state of a new installation
    first = open_page(sign_in=False)
    first.goto(server.url + "/dashboard/")
    expect(first).to_have_url(re.compile(r"/dashboard/login/\?next=/dashboard/$"))
    shot(first, "login")
    first.fill("#id_username", "admin")
    first.fill("#id_password", server.admin_password)
    first.click("button[type=submit]")
    expect(first.get_by_role("heading", name="No prompts yet")).to_be_visible()
    shot(first, "list-empty")

    # A second person watches the list in another browser context.
    watcher = open_page()
    wait_live(watcher)
    mark_document(watcher)

    # --- create a prompt with two variables; the chips follow the typing
    first.get_by_role("link", name="New prompt").first.click()
    editor = first.locator("#id_text")
    editor.fill("Summarise {{ document }} for {{ audience }}.\nKeep it short.")
    expect(first.locator(".chip-undeclared")).to_have_count(2)
    expect(first.locator("#variable-summary")).to_contain_text("Declare 2 new variables")
    editor.press("End")
    editor.type(" {{ oops")  # a malformed placeholder is flagged while typing
    expect(first.locator(".problems")).to_contain_text("{{ oops")
    editor.fill("Summarise {{ document }} for {{ audience }}.\nKeep it short.")
    expect(first.locator(".problems")).to_have_count(0)
    first.get_by_role("button", name="Declare all 2").click()
    expect(first.locator(".chip-declared")).to_have_count(2)
    first.fill("#id_message", "First draft")
    shot(first, "prompt-new")
    first.get_by_role("button", name="Create prompt").click()
    expect(first.locator("#version-heading")).to_have_text("Version 1")
    prompt_id = prompt_id_of(first)
    expect(first.locator(".messages")).to_contain_text(f"Created {prompt_id}")

    # The watcher's list shows it without a reload.
    expect(watcher.locator(f'tr[data-prompt-id="{prompt_id}"]')).to_be_visible(timeout=LIVE_MS)
    assert still_same_document(watcher)

    # The watcher now follows the prompt's page.
    watcher.goto(f"{server.url}/dashboard/{prompt_id}/")
    wait_live(watcher)
    mark_document(watcher)

    # --- edit it into version 2 with a message, keeping version 1 the default for now
    first.get_by_role("link", name="New version").click()
    first.locator("#id_text").fill(
        "Summarise {{ document }} for {{ audience }} in a {{ tone }} tone.\nKeep it short and precise."
    )
    first.locator("#chip-tone").click()  # "Declare tone"
    expect(first.locator(".chip-declared")).to_have_count(3)
    first.fill("#id_message", "Add a tone")
    first.get_by_role("button", name="Save version 2").click()
    saved_at = time.monotonic()
    expect(first.locator("#version-heading")).to_have_text("Version 2")

    # --- the second page updates live when the first one saves
    expect(watcher.locator("#version-list")).to_contain_text("Version 2", timeout=LIVE_MS)
    print(f"live update after {1000 * (time.monotonic() - saved_at):.0f} ms (from the click)")
    expect(watcher.locator("#version-list")).to_contain_text("Add a tone")
    assert still_same_document(watcher)
    shot(first, "prompt-detail")

    # --- the diff between the two versions
    first.get_by_role("link", name="Compare with v1").click()
    diff = first.locator("#diff-view")
    expect(diff.locator(".chip-added")).to_contain_text("tone")
    expect(diff.locator(".diff-insert ins").first).to_be_visible()
    expect(diff.locator(".diff-delete")).to_have_count(2)
    expect(diff.locator(".diff-delete").nth(1)).to_contain_text("Keep it short.")
    expect(diff).to_contain_text("+2")
    shot(first, "prompt-diff")
    first.select_option("#diff-from", "2")
    expect(first.locator("#diff-view")).to_contain_text("Pick two different versions")
    settled(first)
    first.select_option("#diff-to", "1")
    expect(first.locator("#diff-view .chip-removed")).to_contain_text("tone")
    # the picked pair is in the address
    assert "from=2" in first.url
    assert "to=1" in first.url

    # --- set version 1 as default from the timeline
    first.goto(f"{server.url}/dashboard/{prompt_id}/")
    expect(first.locator("#version-heading")).to_have_text("Version 2")
    version_one = first.locator(".timeline-item", has_text="Version 1")
    version_one.get_by_role("button", name="Set as default").click()
    expect(version_one.locator(".badge-default")).to_be_visible()
    expect(first.locator("#version-status")).to_contain_text("Applications get version 1")
    assert httpx.get(f"{server.url}/v1/prompts/{prompt_id}").json()["version"] == 1
    watched_one = watcher.locator(".timeline-item", has_text="Version 1")
    expect(watched_one.locator(".badge-default")).to_be_visible(timeout=LIVE_MS)

    # --- preview: fill the values, see the rendered text, missing values marked
    first.locator("#var-document").fill("the <b>annual</b> report")
    output = first.locator("#preview-output")
    expect(output.locator("mark.filled")).to_have_text("the <b>annual</b> report")
    expect(output.locator("mark.missing")).to_have_count(4)  # audience and tone: in the list and in the text
    first.locator("#var-audience").fill("the board")
    first.locator("#var-tone").fill("calm")
    expect(output).to_contain_text("Every variable has a value")
    expect(output.locator("pre")).to_have_text(
        "Summarise the <b>annual</b> report for the board in a calm tone.\nKeep it short and precise."
    )
    shot(first, "prompt-preview")

    # --- a change through /v1 shows on both open pages
    httpx.put(
        f"{server.url}/v1/prompts/{prompt_id}",
        json={"prompt": "From the API {{ document }}", "variables": ["document"], "version": 2, "message": "via API"},
    ).raise_for_status()
    expect(watcher.locator("#version-list")).to_contain_text("via API", timeout=LIVE_MS)
    expect(first.locator("#version-list")).to_contain_text("Version 3", timeout=LIVE_MS)
    assert still_same_document(watcher)

    # --- editing while someone else saves: notice, then a conflict that keeps the text
    first.get_by_role("link", name="New version").click()
    first.locator("#id_text").fill("My edit of {{ document }}")
    httpx.put(
        f"{server.url}/v1/prompts/{prompt_id}",
        json={"prompt": "Their edit of {{ document }}", "variables": ["document"], "version": 3},
    ).raise_for_status()
    expect(first.locator("#edit-notice")).to_contain_text("Version 4 was just saved", timeout=LIVE_MS)
    first.get_by_role("button", name="Save version 4").click()
    conflict = first.locator(".conflict")
    expect(conflict).to_contain_text("Someone saved a newer version while you were editing")
    expect(conflict.locator(".diff-insert").first).to_contain_text("Their edit of")
    expect(first.locator("#id_text")).to_have_value("My edit of {{ document }}")
    shot(first, "prompt-edit-conflict")
    first.get_by_role("button", name="Save version 5").click()
    expect(first.locator("#version-heading")).to_have_text("Version 5")

    # --- the list on a laptop and a phone
    first.goto(server.url + "/dashboard/")
    shot(first, "prompt-list")
    first.set_viewport_size(PHONE)
    shot(first, "prompt-list-phone")
    first.goto(f"{server.url}/dashboard/{prompt_id}/")
    shot(first, "prompt-detail-phone")
    width = first.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    first.set_viewport_size(LAPTOP)

    # --- delete after a confirmation that names the prompt; the watcher is told
    first.get_by_role("link", name="Delete…").click()
    confirm = first.locator("#delete-confirm")
    expect(confirm).to_contain_text(f"Delete prompt {prompt_id}?")
    shot(first, "prompt-delete-confirm")
    confirm.get_by_role("button", name=re.compile("^Delete pmpt_")).click()
    expect(first.locator(".messages")).to_contain_text(f"Deleted {prompt_id}")
    expect(watcher.locator("#version-list")).to_contain_text("not found", timeout=LIVE_MS)


def test_keyboard_only_creation(open_page, server):
    from playwright.sync_api import expect

    page = open_page()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "prompt-search"
    page.goto(server.url + "/dashboard/new/")
    page.locator("#id_text").focus()
    page.keyboard.type("Translate {{ text }} into {{ language }}")
    expect(page.locator(".chip-undeclared")).to_have_count(2)
    # Tab reaches the chips' buttons; the focus ring is visible on each.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "chip-text", focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")  # declares "text"; focus stays on its chip
    expect(page.locator(".chip-declared")).to_have_count(1)
    assert page.evaluate("document.activeElement.id") == "chip-text"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # declares "language"
    expect(page.locator(".chip-declared")).to_have_count(2)
    page.locator("#id_text").focus()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#version-heading")).to_have_text("Version 1")


def test_works_without_javascript(open_page, browser, server):
    """Every htmx control is also a plain link or form."""
    from playwright.sync_api import expect

    page = open_page(java_script_enabled=False)
    page.goto(server.url + "/dashboard/new/")
    page.fill("#id_text", "Plain {{ thing }} and {{ other }}")
    page.get_by_role("button", name="Check variables").click()
    expect(page.locator(".chip-undeclared")).to_have_count(2)
    page.get_by_role("button", name="Declare all 2").click()
    expect(page.locator(".chip-declared")).to_have_count(2)
    page.get_by_role("button", name="Create prompt").click()
    expect(page.locator("#version-heading")).to_have_text("Version 1")
    prompt_id = prompt_id_of(page)
    page.locator("#var-thing").fill("one")
    page.get_by_role("button", name="Render preview").click()
    expect(page.locator("#preview-output mark.filled")).to_have_text("one")
    page.goto(f"{server.url}/dashboard/?q=Plain")
    expect(page.locator(f'tr[data-prompt-id="{prompt_id}"]')).to_be_visible()
    page.get_by_role("link", name=re.compile("^Plain")).click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name=re.compile("^Delete pmpt_")).click()
    expect(page.locator(".messages")).to_contain_text(f"Deleted {prompt_id}")


WEATHER_TOOL = """[
  {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
  }
]"""


def test_a_chat_prompt_with_settings_edited_and_compared(browser, start_server, upstream):
    """A chat prompt (system and user messages, variables in both) with a model the server can reach, a
    temperature and a tool; a second version changing a message and a setting; the two compared."""
    from playwright.sync_api import expect

    server = start_server(provider_yaml(upstream.url))  # registered models: fake-model and alias-model
    context = browser.new_context(viewport=LAPTOP)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/dashboard/new/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", server.admin_password)
    page.click("button[type=submit]")

    # --- a chat template: a system and a user message, with variables in both
    page.get_by_role("button", name="Chat messages").click()
    expect(page.locator(".message-card")).to_have_count(2)
    expect(page.locator("#message-0-role")).to_have_value("system")
    expect(page.locator("#message-1-role")).to_have_value("user")
    expect(page.locator("#message-0-content")).to_be_focused()
    page.fill("#message-0-content", "You are a {{ role }} for {{ company }}.\nAnswer briefly.")
    page.fill("#message-1-content", "Hello, I am {{ customer }}. {{ question }}")
    expect(page.locator(".chip-undeclared")).to_have_count(4)  # the chips read every message
    page.get_by_role("button", name="Declare all 4").click()
    expect(page.locator(".chip-declared")).to_have_count(4)

    # Add a message, move it up, choose its role, then take it out again.
    page.get_by_role("button", name="Add message").click()
    expect(page.locator(".message-card")).to_have_count(3)
    expect(page.locator("#message-2-content")).to_be_focused()
    page.keyboard.type("Use {{ tone }} words.")
    page.get_by_role("button", name="Move up message 3").click()
    expect(page.locator("#message-1-content")).to_have_value("Use {{ tone }} words.")
    expect(page.locator("#message-2-content")).to_have_value("Hello, I am {{ customer }}. {{ question }}")
    page.select_option("#message-1-role", "developer")
    expect(page.locator("#chip-tone")).to_be_visible()
    page.get_by_role("button", name="Remove message 2").click()
    expect(page.locator(".message-card")).to_have_count(2)
    expect(page.locator("#chip-tone")).to_have_count(0)

    # --- settings: a model from the ones the server can reach, a temperature, a tool checked as it is typed
    expect(page.locator("#model-options option")).to_have_count(2)
    assert page.locator("#model-options option").evaluate_all("os => os.map(o => o.value)") == [
        "fake-model",
        "alias-model",
    ]
    page.fill("#id_model", "fake-model")
    page.fill("#id_temperature", "0.3")
    page.select_option("#id_reasoning_effort", "low")
    page.locator("#id_tools").fill('[{"type": "function", "name": "get weather"}]')
    expect(page.locator("#check-tools .field-error")).to_contain_text("function names are 1-64 letters")
    page.locator("#id_tools").fill(WEATHER_TOOL)
    expect(page.locator("#check-tools .field-ok")).to_have_text("Valid tools.")
    page.fill("#id_message", "Chat version")
    shot(page, "chat-prompt-new")
    page.get_by_role("button", name="Create prompt").click()
    expect(page.locator("#version-heading")).to_have_text("Version 1")
    prompt_id = prompt_id_of(page)
    stored = httpx.get(f"{server.url}/v1/prompts/{prompt_id}").json()
    assert [m["role"] for m in stored["messages"]] == ["system", "user"]
    assert stored["variables"] == ["role", "company", "customer", "question"]
    assert (stored["model"], stored["temperature"], stored["reasoning"]) == ("fake-model", 0.3, {"effort": "low"})
    assert stored["tools"][0]["name"] == "get_weather"

    # --- the version page: every message in the preview, the settings, and the snippet without a model
    preview = page.locator("#preview-output")
    expect(preview.locator(".message-card")).to_have_count(2)
    page.locator("#var-role").fill("helpful agent")
    expect(preview.locator(".message-card").first.locator("mark.filled")).to_have_text("helpful agent")
    expect(preview.locator("mark.missing")).to_have_count(6)  # company, customer, question: listed and in place
    settings = page.locator(".settings-list")
    expect(settings).to_contain_text("fake-model")
    expect(settings).to_contain_text("0.3")
    expect(settings).to_contain_text('"name": "get_weather"')
    page.get_by_text("Use this version from code").click()
    snippet = page.locator(".usage code").inner_text()
    assert "client.responses.create(" in snippet
    assert f'"id": "{prompt_id}"' in snippet
    assert '"customer": "…",' in snippet
    assert "model=" not in snippet  # the version names its model
    shot(page, "chat-prompt-detail")

    # --- version 2: a bad setting first (an error at its field, nothing saved), then a changed message and setting
    page.get_by_role("link", name="New version").click()
    expect(page.locator("#message-1-content")).to_have_value("Hello, I am {{ customer }}. {{ question }}")
    expect(page.locator("#id_model")).to_have_value("fake-model")
    page.fill("#id_max_output_tokens", "8")  # below the range: the browser itself says so at the field
    page.get_by_role("button", name="Save version 2").click()
    assert page.locator("#id_max_output_tokens").evaluate("input => input.validity.rangeUnderflow")
    page.fill("#id_max_output_tokens", "")
    page.fill("#id_tool_choice", "get_weather")  # what the server refuses, it says at the field
    page.get_by_role("button", name="Save version 2").click()
    expect(page.locator("#error-tool_choice")).to_contain_text("Invalid value for 'tool_choice'")
    expect(page.locator("#id_tool_choice")).to_have_attribute("aria-invalid", "true")
    assert len(httpx.get(f"{server.url}/v1/prompts/{prompt_id}/versions").json()["data"]) == 1
    shot(page, "chat-prompt-edit-error")
    page.fill("#id_tool_choice", "")
    page.fill("#message-1-content", "Hi, I am {{ customer }} from {{ company }}. {{ question }}")
    page.fill("#id_temperature", "0.7")
    page.fill("#id_message", "Warmer")
    page.locator("#message-1-content").press("Control+Enter")
    expect(page.locator("#version-heading")).to_have_text("Version 2")

    # --- compare: the message and the setting that changed
    page.get_by_role("link", name="Compare with v1").click()
    diff = page.locator("#diff-view")
    changed = diff.locator(".message-changed")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("Message 2")
    expect(changed.locator(".diff-insert")).to_contain_text("Hi, I am {{ customer }} from {{ company }}.")
    expect(changed.locator(".diff-insert ins").last).to_contain_text("from {{ company }}")
    expect(diff.locator(".message-equal")).to_contain_text("system")
    temperature = diff.locator(".setting-change", has_text="Temperature")
    expect(temperature.locator("del")).to_contain_text("0.3")
    expect(temperature.locator("ins")).to_contain_text("0.7")
    expect(diff.locator(".setting-change")).to_have_count(1)
    expect(diff).to_contain_text("1 setting changed")
    shot(page, "chat-prompt-diff")
    page.set_viewport_size(PHONE)
    shot(page, "chat-prompt-diff-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the compare page scrolls sideways on a phone ({width}px)"
    page.goto(f"{server.url}/dashboard/{prompt_id}/edit/")
    shot(page, "chat-prompt-edit-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the editor scrolls sideways on a phone ({width}px)"
    context.close()
    assert errors == [], errors


def test_the_chat_editor_works_without_javascript(open_page, server):
    from playwright.sync_api import expect

    page = open_page(java_script_enabled=False)
    page.goto(server.url + "/dashboard/new/")
    page.fill("#id_text", "You answer for {{ shop }}.")
    page.get_by_role("button", name="Chat messages").click()
    expect(page.locator("#message-0-content")).to_have_value("You answer for {{ shop }}.")
    page.get_by_role("button", name="Add message").click()
    page.fill("#message-1-content", "Where is my order {{ order }}?")
    page.get_by_role("button", name="Add message").click()
    page.fill("#message-2-content", "A third one")
    page.get_by_role("button", name="Move up message 3").click()
    expect(page.locator("#message-1-content")).to_have_value("A third one")
    page.get_by_role("button", name="Remove message 2").click()
    expect(page.locator(".message-card")).to_have_count(2)
    page.get_by_role("button", name="Check variables").click()
    page.get_by_role("button", name="Declare all 2").click()
    page.fill("#id_tools", "[{")
    page.get_by_role("button", name="Create prompt").click()
    expect(page.locator("#error-tools")).to_contain_text("not valid JSON")
    expect(page.locator("#message-1-content")).to_have_value("Where is my order {{ order }}?")
    page.fill("#id_tools", "")
    page.get_by_role("button", name="Create prompt").click()
    expect(page.locator("#version-heading")).to_have_text("Version 1")
    expect(page.locator("#preview-output .message-card")).to_have_count(2)


@pytest.mark.redis
def test_pages_on_different_workers_update_live_through_redis(browser, start_server, redis_namespace):
    """Two worker processes sharing events through Redis: every open list page (whichever worker serves its
    websocket) shows prompts created through either worker."""
    from playwright.sync_api import expect

    server = start_server(redis_events_config(redis_namespace), workers=2)
    pages = []
    contexts = []
    try:
        for _ in range(4):
            context = browser.new_context(viewport=LAPTOP)
            contexts.append(context)
            page = context.new_page()
            page.goto(server.url + "/dashboard/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", server.admin_password)
            page.click("button[type=submit]")
            wait_live(page)
            mark_document(page)
            pages.append(page)
        created = []
        for i in range(4):  # a new connection each time: the writes land on either worker
            response = httpx.post(server.url + "/v1/prompts", json={"prompt": f"Across workers {i}"})
            created.append(response.raise_for_status().json()["prompt_id"])
        for page in pages:
            for prompt_id in created:
                expect(page.locator(f'tr[data-prompt-id="{prompt_id}"]')).to_be_visible(timeout=LIVE_MS)
            assert still_same_document(page)
    finally:
        for context in contexts:
            context.close()
