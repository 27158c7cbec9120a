"""Debian's Chromium (/usr/bin/chromium), driven by Playwright, for the tests marked `browser`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.services import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright's `Browser`); a missing Chromium skips the test, or fails it under CI."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (install Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def admin_page(browser, server) -> Iterator:
    """A page logged in to `server`'s dashboard as its admin; a script error on it fails the test at the end."""
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(server.url + "/dashboard/login/")
    opened.fill("#id_username", "admin")
    opened.fill("#id_password", server.admin_password)
    opened.click("button[type=submit]")
    opened.wait_for_url(server.url + "/dashboard/")
    yield opened
    context.close()
    assert errors == [], errors
