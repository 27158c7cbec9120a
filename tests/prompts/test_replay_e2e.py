"""A replay against a candidate in headless Chromium against a live server whose model calls go through the
recorder (recordings in tests/prompts/recordings): responses stored through `/v1` with version 1, a replay
started from the prompt's page against version 2, its progress reaching the end (computed by the server's task
runner), the table of answers; then Delete. On SQLite and on PostgreSQL. Screenshots in
test-artifacts/screenshots/replay-*.png."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from tests.support.browser import admin_page
from tests.support.inference import provider_yaml, recordings, start_inference_server
from tests.support.postgres import postgres_database, run_config

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
QUESTIONS = [f"#echo replayed question {n}" for n in range(6)]  # the fake model answers with what it was sent


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory, upstream):
    """A live server with its responses store (where replays and the task engine's rows live) on SQLite, or on a
    fresh PostgreSQL database."""
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(postgres_database()) if request.param == "postgres" else None
        storage = run_config(database, stores=("responses",)) if database else ""
        live = start_inference_server(
            tmp_path_factory.mktemp("replay"), recordings("prompts"), provider_yaml(upstream.url, storage=storage)
        )
        stack.callback(live.stop)
        yield live


@pytest.fixture(scope="module")
def prompt_id(server) -> str:
    """Version 1 with the responses made with it; version 2, the candidate, words its system prompt differently."""
    with httpx.Client(base_url=server.url + "/v1", timeout=30) as api:
        body = {"prompt": "You explain {{ topic }}.", "variables": ["topic"], "model": "fake-model"}
        prompt_id = api.post("/prompts", json=body).json()["prompt_id"]
        update = {
            "prompt": "You briefly explain {{ topic }}.",
            "variables": ["topic"],
            "model": "fake-model",
            "version": 1,
            "set_as_default": False,
        }
        assert api.put(f"/prompts/{prompt_id}", json=update).status_code == 200
        for text in QUESTIONS:
            request = {"prompt": {"id": prompt_id, "version": "1", "variables": {"topic": "replays"}}, "input": text}
            assert api.post("/responses", json=request).status_code == 200
    return prompt_id


@pytest.fixture
def page(browser, server):
    with admin_page(browser, server) as opened:
        yield opened


def test_start_a_replay_watch_it_finish_and_read_the_table(request, page, server, prompt_id):
    from playwright.sync_api import expect

    page.goto(f"{server.url}/dashboard/{prompt_id}/")  # the form is on the prompt's page, in its Replay section
    expect(page.locator("#replay-candidate")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#prompt-replays").screenshot(path=str(SCREENSHOTS / f"replay-form-{request.node.callspec.id}.png"))
    page.select_option("#replay-source", "v1")
    page.select_option("#replay-window", "24h")
    page.select_option("#replay-candidate", "2")
    page.get_by_role("button", name="Start replay").click()
    page.wait_for_url(f"{server.url}/dashboard/{prompt_id}/replays/replay_*/")

    region = page.locator("#replay-run")
    expect(region).to_have_attribute("data-status", "completed", timeout=30_000)  # polled by htmx until it ends
    expect(page.locator("#replay-progress-count")).to_contain_text("6 of 6 done")
    rows = page.locator("tr.replay-item")
    expect(rows).to_have_count(len(QUESTIONS))
    expect(page.locator('tr.replay-item[data-state="done"]')).to_have_count(len(QUESTIONS))
    first = page.locator('tr.replay-item[data-position="1"]')
    newest = QUESTIONS[-1]
    expect(first.locator(".replay-input .replay-text")).to_have_text(newest)
    expect(first.locator(".replay-original .replay-text")).to_contain_text('"You explain replays."')
    expect(first.locator(".replay-original .replay-text")).to_contain_text(newest)
    expect(first.locator(".replay-candidate .replay-text")).to_contain_text('"You briefly explain replays."')
    expect(first.locator(".replay-candidate .replay-text")).to_contain_text(newest)
    expect(first.locator(".replay-diff ins")).to_have_text("briefly ")
    expect(first.locator(".replay-diff del")).to_have_count(0)
    expect(page.locator('tr[data-side="candidate"] td').first).to_have_text(str(len(QUESTIONS)))
    page.screenshot(path=str(SCREENSHOTS / f"replay-{request.node.callspec.id}.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete replay").click()
    page.wait_for_url(f"{server.url}/dashboard/{prompt_id}/replays/")
    expect(page.locator(".empty-replays")).to_be_visible()
