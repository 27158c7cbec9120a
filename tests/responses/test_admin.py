"""Operators see stored responses and chat completions in the Django admin, read-only."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.dashboard import admin_session


@pytest.fixture
def admin(responses_server):
    with admin_session(responses_server) as browser:
        yield browser


def test_response_pages_show_input_output_usage_and_prompt_version(admin, client, http):
    prompt_id = http.post("/prompts", json={"prompt": "You help with {{ topic }}.", "variables": ["topic"]}).json()[
        "prompt_id"
    ]
    response = client.responses.create(
        model="fake-model", input="admin page check", prompt={"id": prompt_id, "variables": {"topic": "gardens"}}
    )
    listing = admin.get("/admin/responses/storedresponse/", params={"q": response.id})
    assert listing.status_code == 200
    assert response.id in listing.text
    assert f"{prompt_id} (version 1)" in listing.text
    assert f'href="/dashboard/{prompt_id}/?version=1"' in listing.text  # links back to the prompt
    pk = re.search(r'href="/admin/responses/storedresponse/(\d+)/change/', listing.text).group(1)
    detail = admin.get(f"/admin/responses/storedresponse/{pk}/change/")
    assert detail.status_code == 200
    for expected in ("admin page check", "Hello! You said: admin page check", "total_tokens", prompt_id):
        assert expected in detail.text
    assert 'name="_save"' not in detail.text  # read-only: no save button
    assert admin.get("/admin/responses/storedresponse/add/").status_code == 403


def test_chat_completion_pages(admin, client):
    completion = client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "admin completion"}]
    )
    listing = admin.get("/admin/inference/chatcompletion/", params={"q": completion.id})
    assert completion.id in listing.text
    pk = re.search(r'href="/admin/inference/chatcompletion/(\d+)/change/', listing.text).group(1)
    detail = admin.get(f"/admin/inference/chatcompletion/{pk}/change/")
    assert "admin completion" in detail.text
    assert "Hello! You said: admin completion" in detail.text
    assert 'name="_save"' not in detail.text


def test_anonymous_visitors_are_sent_to_log_in(responses_server):
    page = httpx.get(responses_server.url + "/admin/responses/storedresponse/", follow_redirects=False)
    assert page.status_code == 302
    assert "login" in page.headers["location"]
