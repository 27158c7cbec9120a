"""The playground in headless Chromium against a live server whose model calls go through the recorder (the fake
upstream; recordings in tests/prompts/recordings): a run streams into the page and is stored as a playground
response, two versions side by side, a run without JavaScript, and the bad cases (a missing variable, a model
that does not exist, a model server failing mid-stream). Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.inference import provider_yaml, recordings, start_inference_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    live = start_inference_server(
        tmp_path_factory.mktemp("playground"), recordings("prompts"), provider_yaml(upstream.url)
    )
    yield live
    live.stop()


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url + "/v1", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def prompt_id(api) -> str:
    """Version 1 names the fake model; version 2 answers more politely."""
    body = {"prompt": "You explain {{ topic }}.", "variables": ["topic"], "model": "fake-model"}
    prompt_id = api.post("/prompts", json=body).json()["prompt_id"]
    update = {"prompt": "You kindly explain {{ topic }}.", "variables": ["topic"], "model": "fake-model", "version": 1}
    assert api.put(f"/prompts/{prompt_id}", json={**update, "set_as_default": False}).status_code == 200
    return prompt_id


@pytest.fixture
def page(browser, server):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = _signed_in(context, server, errors)
    yield opened
    context.close()
    assert errors == [], errors


def _signed_in(context, server, errors):
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/dashboard/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/dashboard/")
    return page


def usage(api, prompt_id: str, **params) -> dict:
    return {v["version"]: v for v in api.get(f"/prompts/{prompt_id}/usage", params=params).json()["versions"]}


def run(page, *, topic: str, text: str, model: str = "", compare: str = "") -> None:
    page.fill("#run-var-topic", topic)
    page.fill("#run-input", text)
    page.fill("#run-model", model)
    if compare:
        page.select_option("#run-compare", compare)
    page.get_by_role("button", name="Run", exact=True).click()


def test_a_run_streams_into_the_page_and_is_stored_as_a_playground_response(page, server, api, prompt_id):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/dashboard/{prompt_id}/?version=1")
    expect(page.locator("#run-model")).to_have_attribute("placeholder", "fake-model")
    run(page, topic="tides", text="what moves the sea")
    answer = page.locator(".playground-answer")
    expect(answer).to_have_text("Hello! You said: what moves the sea")
    summary = page.locator(".playground-summary")
    expect(summary).to_contain_text("completed")
    expect(summary).to_contain_text("stored as resp_")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "playground.png"), full_page=True)
    counted = usage(api, prompt_id, include_playground="true")
    assert counted[1]["requests"] == 1
    assert usage(api, prompt_id) == {}  # left out of usage unless asked for
    stored_id = summary.locator("code").inner_text()
    stored = api.get(f"/responses/{stored_id}").json()
    assert stored["status"] == "completed"
    assert stored["prompt"]["variables"] == {"topic": "tides"}


def test_two_versions_side_by_side_on_the_same_input(page, server, prompt_id):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/dashboard/{prompt_id}/?version=1")
    run(page, topic="stars", text="why do they shine", compare="2")
    runs = page.locator(".playground-run")
    expect(runs).to_have_count(2)
    for version in ("1", "2"):
        box = page.locator(f'.playground-run[data-version="{version}"]')
        expect(box.locator(".playground-answer")).to_have_text("Hello! You said: why do they shine")
        expect(box.locator(".playground-summary")).to_contain_text("completed")


@pytest.mark.parametrize(
    ("topic", "model", "message"),
    [
        ("", "", "Missing value for prompt variable 'topic'"),
        ("rain", "no-such-model", "no-such-model"),
    ],
)
def test_a_run_that_cannot_start_says_why_and_stores_nothing(page, server, api, prompt_id, topic, model, message):
    from playwright.sync_api import expect

    before = usage(api, prompt_id, include_playground="true")
    page.goto(f"{server.url}/dashboard/{prompt_id}/?version=1")
    run(page, topic=topic, text="anything", model=model)
    expect(page.locator(".playground-error")).to_contain_text(message)
    expect(page.locator(".playground-run")).to_have_count(0)
    assert usage(api, prompt_id, include_playground="true") == before


def test_a_model_server_failing_mid_stream_is_said_on_the_page_and_stored_as_failed(page, server, api, prompt_id):
    from playwright.sync_api import expect

    before = usage(api, prompt_id, include_playground="true").get(1, {"errors": 0})["errors"]
    page.goto(f"{server.url}/dashboard/{prompt_id}/?version=1")
    run(page, topic="waves", text="#midstream please")
    expect(page.locator(".playground-error")).to_contain_text("The model server failed")
    after = usage(api, prompt_id, include_playground="true")[1]["errors"]
    assert after == before + 1


def test_a_run_without_javascript(browser, server, prompt_id):
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    try:
        page = _signed_in(context, server, [])
        page.goto(f"{server.url}/dashboard/{prompt_id}/?version=1")
        run(page, topic="moons", text="no script here")
        expect(page.locator(".playground-answer")).to_have_text("Hello! You said: no script here")
        expect(page.locator(".playground-summary")).to_contain_text("completed")
        expect(page.locator("#run-var-topic")).to_have_value("moons")  # the form keeps what was typed
    finally:
        context.close()


def test_the_usage_chart_and_table_in_the_browser(page, server, api, prompt_id):
    from playwright.sync_api import expect

    for version, text in (("1", "chart one"), ("1", "chart two"), ("2", "chart three")):
        body = {"prompt": {"id": prompt_id, "version": version, "variables": {"topic": "charts"}}, "input": text}
        assert api.post("/responses", json=body).status_code == 200
    page.goto(f"{server.url}/dashboard/{prompt_id}/?usage_range=24h")
    chart = page.locator("svg.usage-chart")
    expect(chart).to_be_visible()
    expect(chart.locator('rect.bar[data-version="1"]')).to_have_attribute("data-requests", "2")
    expect(chart.locator('rect.bar[data-version="2"]')).to_have_attribute("data-requests", "1")
    expect(page.locator('.usage-table tr[data-version="1"] td').first).to_have_text("2")
    page.locator("#prompt-usage").screenshot(path=str(SCREENSHOTS / "usage.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the prompt page with its usage scrolls sideways on a phone ({width}px)"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server.url}/dashboard/")
    expect(page.locator(f'tr[data-prompt-id="{prompt_id}"] svg.sparkline')).to_be_visible()
