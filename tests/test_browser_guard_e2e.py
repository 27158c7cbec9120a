"""A web page on another loopback origin, in Chromium, against a real `stackadmin run` server with authentication
off (the loopback default): it cannot create a prompt, unless its origin is listed in `server.cors.allowed_origins`."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from tests.support.names import unique
from tests.support.web_page import WebPage

pytestmark = pytest.mark.browser

# What any site the user visits could run: create a prompt on the stackadmin its query string names.
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Another site</title>
<script>
  const query = new URLSearchParams(location.search);
  window.attempt = fetch(query.get("target") + "/v1/prompts", {
    method: "POST",
    headers: {"Content-Type": query.get("type")},
    body: JSON.stringify({prompt: query.get("text")}),
  }).then(
    async (response) => ({status: response.status, body: await response.json()}),
    (error) => ({error: String(error)}),
  );
</script>
"""


@pytest.fixture(scope="module")
def other_site():
    page = WebPage(PAGE)
    yield page
    page.stop()


def attempt(browser, site: WebPage, target: str, text: str, content_type: str) -> dict:
    """Open the other site's page in a fresh browser context; what its `fetch` came to."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.origin}/?" + urlencode({"target": target, "text": text, "type": content_type}))
        return page.evaluate("window.attempt")
    finally:
        context.close()


def prompt_texts(server) -> list[str]:
    return [prompt["prompt"] for prompt in httpx.get(server.url + "/v1/prompts").json()["data"]]


# text/plain is what a page may send without asking the server first (no CORS preflight); JSON needs a preflight.
@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
def test_a_page_from_another_origin_cannot_create_a_prompt(browser, other_site, stackadmin_server, content_type):
    text = unique("from another site ")
    result = attempt(browser, other_site, stackadmin_server.url, text, content_type)
    assert "error" in result, result
    assert text not in prompt_texts(stackadmin_server)


def test_a_page_from_a_configured_origin_creates_a_prompt(browser, other_site, start_server):
    server = start_server(f"server:\n  cors:\n    allowed_origins: ['{other_site.origin}']\n")
    text = unique("from a configured site ")
    result = attempt(browser, other_site, server.url, text, "application/json")
    assert result.get("status") == 200, result
    assert result["body"]["prompt"] == text
    assert text in prompt_texts(server)
