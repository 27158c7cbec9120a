"""The dashboard's stored responses in headless Chromium against a live server: a response that called a remote
MCP tool (model and MCP session answered from tests/responses/recordings, as in test_mcp_tools.py) and one that
did not; the list, filtered to the responses with tool calls (through htmx), then the response's page with the
tool listing and the call, its arguments and its escaped output. Screenshot in
test-artifacts/screenshots/responses-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import admin_page
from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.mcp_recording import MCP_CLIENT_CLASS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TOOLS_YAML = """
tools:
  max_rounds: 3
  mcp:
    allowed_hosts: ["127.0.0.1"]
    call_timeout: 2
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    env = {"STACKADMIN_MCP_CLIENT_CLASS": MCP_CLIENT_CLASS}
    running = start_inference_server(
        tmp_path_factory.mktemp("dashboard-responses"),
        recordings("responses"),
        provider_yaml(upstream.url) + TOOLS_YAML,
        env=env,
    )
    yield running
    running.stop()


@pytest.fixture
def page(browser, server):
    with admin_page(browser, server) as opened:
        yield opened


def test_filter_the_list_and_read_an_mcp_call(page, server, mcp):
    from playwright.sync_api import expect

    client = sdk(server)
    tool = {"type": "mcp", "server_label": "tests", "server_url": mcp.url, "require_approval": "never"}
    called = client.responses.create(model="fake-model", input='#call:echo{"text": "<b>bold</b>"}', tools=[tool])
    plain = client.responses.create(model="fake-model", input="admin page check")

    page.get_by_role("link", name="Responses").click()
    page.wait_for_url(f"{server.url}/dashboard/responses/")
    expect(page.locator(f'tr[data-response="{called.id}"]')).to_be_visible()
    expect(page.locator(f'tr[data-response="{plain.id}"]')).to_be_visible()

    page.select_option("#filter-tools", "yes")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'tr[data-response="{plain.id}"]')).to_have_count(0)  # swapped in by htmx
    page.wait_for_url(f"{server.url}/dashboard/responses/?*tools=yes*")
    row = page.locator(f'tr[data-response="{called.id}"]')
    expect(row.locator('td[data-label="Tool calls"]')).to_have_text("1")

    row.get_by_role("link", name=called.id).click()
    page.wait_for_url(f"{server.url}/dashboard/responses/{called.id}/")
    listing = page.locator('#response-output li[data-type="mcp_list_tools"]')
    expect(listing.locator(".item-tools")).to_have_text("add, echo, slow_echo, explode")
    call = page.locator('#response-output li[data-type="mcp_call"]')
    expect(call.locator(".item-server")).to_have_text("tests")
    expect(call.locator(".item-tool")).to_have_text("echo")
    expect(call.locator(".item-arguments")).to_have_text('{\n  "text": "<b>bold</b>"\n}')
    expect(call.locator(".item-output")).to_contain_text("<b>bold</b>")  # shown as text, not as markup
    expect(call.locator(".item-output b")).to_have_count(0)
    expect(page.locator('#response-output li[data-type="message"]')).to_contain_text("The function returned")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "responses-detail.png"), full_page=True)
