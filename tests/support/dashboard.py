"""Requesting dashboard views with Django's test client: the headers htmx sends, and what a whole page and an htmx
partial must look like."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def hx(target: str | None = None) -> dict:
    """The headers htmx sends for a request whose hx-target is `#target`."""
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/dashboard/"}
    if target:
        headers["HX-Target"] = target
    return headers


def text_of(response) -> str:
    return response.content.decode()


def assert_page(response, *ids: str, status: int = 200) -> str:
    assert response.status_code == status, text_of(response)[:2000]
    body = text_of(response)
    assert body.lstrip().lower().startswith("<!doctype html>")
    assert "<html" in body
    for element_id in ids:
        assert f'id="{element_id}"' in body, element_id
    return body


def assert_partial(response, element_id: str, status: int = 200) -> str:
    """A fragment (no page around it) whose first element carries the id the swap targets."""
    assert response.status_code == status, text_of(response)[:2000]
    body = text_of(response)
    assert "<html" not in body
    assert "<body" not in body
    first = re.search(r"<(\w+)([^>]*)>", body)
    assert first is not None, body[:300]
    assert f'id="{element_id}"' in first.group(2), body[:300]
    return body


def flat(html: str) -> str:
    """The text of an HTML fragment, spaces collapsed, times left out (with the "·" before them): they say "just now"
    in every row."""
    timeless = re.sub(r"(·\s*)?<time[^>]*>.*?</time>", "", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", timeless).split())


def activity_rows(body: str) -> list[str]:
    """The entries of an Activity page, newest first, as text."""
    return [flat(row) for row in re.findall(r'<li class="history-item[^"]*"[^>]*>(.*?)</li>', body, re.S)]


@contextmanager
def admin_session(server) -> Iterator[httpx.Client]:
    """An httpx client logged in to a live server's Django admin as its first operator (`server.admin_password`)."""
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
        page = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        browser.post(
            "/admin/login/?next=/admin/",
            data={"username": "admin", "password": server.admin_password, "csrfmiddlewaretoken": token},
            headers={"Referer": server.url + "/admin/login/"},
        )
        yield browser
