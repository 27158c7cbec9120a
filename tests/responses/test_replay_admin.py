"""Operators see replays against a candidate in the Django admin, read-only, and may delete them (with their
items)."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync

from apps.core.principal import ANONYMOUS
from apps.prompts import services as prompts
from apps.responses import replay
from apps.responses.models import ReplayItem, ReplayRun
from tests.support.replay import store_response

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


@pytest.fixture
def run() -> ReplayRun:
    prompt_id = prompts.prompt_create(text="v1 {{ q }}", variables=["q"]).prompt_id
    prompts.prompt_update(prompt_id=prompt_id, text="v2 {{ q }}", variables=["q"], version=1)
    for text in ("one", "two"):
        store_response(prompt_id, version=1, variables={"q": "x"}, text=text, answer="a")
    spec = replay.ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1)
    return async_to_sync(replay.replay_create)(spec=spec, principal=ANONYMOUS, created_by="carol")


def test_the_list_and_a_read_only_page(admin_client, run):
    listing = admin_client.get("/admin/responses/replayrun/")
    assert listing.status_code == 200
    assert run.public_id in listing.text
    assert "version 1" in listing.text
    assert "0 / 2" in listing.text
    pk = re.search(r'href="/admin/responses/replayrun/(\d+)/change/', listing.text).group(1)
    detail = admin_client.get(f"/admin/responses/replayrun/{pk}/change/")
    assert detail.status_code == 200
    assert f'href="/dashboard/{run.prompt_id}/replays/{run.public_id}/"' in detail.text
    assert "carol" in detail.text
    assert 'name="_save"' not in detail.text  # read-only: no save button
    assert admin_client.get("/admin/responses/replayrun/add/").status_code == 403


def test_delete_removes_the_run_and_its_items(admin_client, run):
    confirm = admin_client.post(f"/admin/responses/replayrun/{run.pk}/delete/", {"post": "yes"})
    assert confirm.status_code == 302
    assert not ReplayRun.objects.filter(pk=run.pk).exists()
    assert ReplayItem.objects.count() == 0


def test_the_bulk_delete_action(admin_client, run):
    data = {"action": "delete_selected", "_selected_action": [run.pk], "post": "yes"}
    assert admin_client.post("/admin/responses/replayrun/", data).status_code == 302
    assert ReplayRun.objects.count() == 0
