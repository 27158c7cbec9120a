"""The replay pages in-process (Django's test client): the form and the list of replays, a replay's page with its
table, Cancel and Delete, each as a whole page and as the htmx partial; the refusals said at the form with
nothing stored; user text escaped in the table and its diff; CSRF; someone else's prompt or replay is a 404. The
model calls go through the recorder (tests/prompts/recordings). The flow in Chromium is test_replay_e2e.py."""

from __future__ import annotations

from django.test import Client

import pytest
from asgiref.sync import async_to_sync

from apps.core.principal import Principal
from apps.inference.registry import close_registry
from apps.prompts import services as prompts
from apps.responses import replay
from apps.responses.models import ReplayItem, ReplayRun
from tests.support.dashboard import assert_page, assert_partial, hx
from tests.support.inference import recordings
from tests.support.replay import store_response, use_model_server

pytestmark = pytest.mark.django_db

RECORDINGS = recordings("prompts")


@pytest.fixture
def models(settings, monkeypatch, tmp_path, upstream):
    use_model_server(
        settings,
        monkeypatch,
        tmp_path,
        url=upstream.url,
        mode=upstream.mode,
        recordings=RECORDINGS,
        usage={"prices": {"fake-model": {"input": 1000, "output": 1000}}, "replay_max": 5},
    )


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


def two_versions(principal: Principal | None = None) -> str:
    owner = {"principal": principal} if principal else {}
    first = prompts.prompt_create(text="You explain {{ topic }}.", variables=["topic"], **owner)
    prompts.prompt_update(
        prompt_id=first.prompt_id,
        text="You kindly explain {{ topic }}.",
        variables=["topic"],
        version=1,
        set_as_default=False,
        **owner,
    )
    return first.prompt_id


@pytest.fixture
def prompt_id(models) -> str:
    prompt_id = two_versions()
    store_response(
        prompt_id, version=1, variables={"topic": "tags"}, text="say <b>bold</b>", answer="Old <i>answer</i>"
    )
    return prompt_id


def start(web, prompt_id: str, **fields):
    data = {"source": "v1", "window": "all", "candidate": "2", "sample": "", "model": "", **fields}
    return web.post(f"/dashboard/{prompt_id}/replays/", data)


def only_run() -> ReplayRun:
    (run,) = ReplayRun.objects.all()
    return run


# ------------------------------------------------------------------------------------------ the list and the form
def test_the_replays_page_and_its_partials(web, prompt_id):
    body = assert_page(web.get(f"/dashboard/{prompt_id}/replays/"), "replay-form", "replay-runs")
    assert 'value="label:default"' in body
    assert "No replay of this prompt yet." in body
    runs = assert_partial(web.get(f"/dashboard/{prompt_id}/replays/", headers=hx("replay-runs")), "replay-runs")
    assert "replay-form" not in runs
    form = assert_partial(web.get(f"/dashboard/{prompt_id}/replays/", headers=hx("replay-form")), "replay-form")
    assert "Start replay" in form


def test_the_prompt_page_has_a_replay_section(web, prompt_id):
    body = assert_page(web.get(f"/dashboard/{prompt_id}/"), "prompt-replays", "replay-form", "replay-runs")
    assert f'href="/dashboard/{prompt_id}/replays/"' in body  # without JavaScript: a link to the replays
    assert body.count(f'hx-get="/dashboard/{prompt_id}/replays/" hx-trigger="load"') == 2  # with it, both regions


def test_starting_a_replay_goes_to_its_page(web, prompt_id):
    response = start(web, prompt_id)
    run = only_run()
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{prompt_id}/replays/{run.public_id}/"
    assert (run.total, run.status, run.created_by) == (1, "queued", "alice")


def test_starting_a_replay_with_htmx_moves_the_page(web, prompt_id):
    data = {"source": "label:default", "window": "7d", "candidate": "2"}
    response = web.post(f"/dashboard/{prompt_id}/replays/", data, headers=hx("replay-form"))
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/dashboard/{prompt_id}/replays/{only_run().public_id}/"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "v2"}, "there is nothing to replay"),
        ({"sample": "6"}, "at most 5 responses"),
        ({"candidate": "9"}, "has no version 9 to replay with"),
        ({"model": "no-such-model"}, "no-such-model"),
        ({"source": "label:Not A Label"}, "Labels are 1-36 characters"),
        ({"candidate": "x"}, "Candidate: Enter a whole number."),
    ],
)
def test_a_refused_replay_is_said_at_the_form_and_nothing_is_stored(web, prompt_id, fields, message):
    data = {"source": "v1", "window": "all", "candidate": "2", **fields}
    partial = web.post(f"/dashboard/{prompt_id}/replays/", data, headers=hx("replay-form"))
    assert message in assert_partial(partial, "replay-form", status=400).replace("&#x27;", "'")
    page = start(web, prompt_id, **fields)
    assert message in assert_page(page, "replay-form", status=400).replace("&#x27;", "'")
    assert ReplayRun.objects.count() == 0
    assert ReplayItem.objects.count() == 0


def test_a_post_from_another_site_is_refused(alice, prompt_id):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(f"/dashboard/{prompt_id}/replays/", {"source": "v1", "window": "all", "candidate": "2"})
    assert response.status_code == 403
    assert ReplayRun.objects.count() == 0


# ------------------------------------------------------------------------------------------ a replay's page
async def execute(run_id: str) -> str:
    """What the task engine runs, on an event loop of its own (and its model clients closed after)."""
    try:
        return await replay.replay_execute(run_id=run_id)
    finally:
        await close_registry()


@pytest.fixture
def finished(web, prompt_id) -> ReplayRun:
    start(web, prompt_id)
    run = only_run()
    assert async_to_sync(execute)(run.public_id) == "completed"
    run.refresh_from_db()
    return run


def test_a_finished_replay_shows_both_answers_escaped_with_a_word_diff(web, prompt_id, finished):
    url = f"/dashboard/{prompt_id}/replays/{finished.public_id}/"
    body = assert_page(web.get(url), "replay-run")
    assert "say &lt;b&gt;bold&lt;/b&gt;" in body  # the input, escaped
    assert "Old &lt;i&gt;answer&lt;/i&gt;" in body
    assert "Hello! You said: say &lt;b&gt;bold&lt;/b&gt;" in body  # the candidate's answer
    diff = (
        "<del>Old</del><ins>Hello! You said: say</ins> &lt;<del>i</del><ins>b</ins>&gt;<del>answer</del><ins>bold</ins>"
    )
    assert diff in body  # changed words marked, the text around them escaped
    assert "<b>" not in body.split('id="replay-run"')[1]  # no user text reaches the page unescaped
    assert 'hx-trigger="every 1s"' not in body  # it has ended: nothing polls
    assert '<progress id="replay-progress" max="1" value="1"' in body
    partial = assert_partial(web.get(url, headers=hx("replay-run")), "replay-run")
    assert 'data-status="completed"' in partial
    assert 'data-side="candidate"' in partial


def test_the_totals_show_the_cost_from_the_price_table(web, prompt_id, finished):
    item = ReplayItem.objects.get()
    body = web.get(f"/dashboard/{prompt_id}/replays/{finished.public_id}/").content.decode()
    original_cost = (7 + 3) * 1000 / 1_000_000  # store_response's tokens, at 1000 per million each
    candidate_cost = (item.input_tokens + item.output_tokens) * 1000 / 1_000_000
    assert f"{original_cost:.4f}" in body
    assert f"{candidate_cost:.4f}" in body


def test_a_running_replay_polls_and_can_be_cancelled(web, prompt_id):
    start(web, prompt_id)
    run = only_run()
    url = f"/dashboard/{prompt_id}/replays/{run.public_id}/"
    body = assert_page(web.get(url), "replay-run")
    assert 'hx-trigger="every 1s"' in body
    assert '<meta http-equiv="refresh" content="2">' in body  # without JavaScript, the page refreshes itself
    cancelled = web.post(f"{url}cancel/", headers=hx("replay-run"))
    assert 'data-status="cancelled"' in assert_partial(cancelled, "replay-run")
    again = web.post(f"{url}cancel/")
    assert again.status_code == 302  # cancelling a cancelled replay changes nothing
    assert only_run().status == "cancelled"


def test_cancelling_a_finished_replay_is_said_in_place(web, prompt_id, finished):
    url = f"/dashboard/{prompt_id}/replays/{finished.public_id}/"
    response = web.post(f"{url}cancel/", headers=hx("replay-run"))
    assert "already completed" in assert_partial(response, "replay-run", status=400)


def test_delete_goes_back_to_the_list(web, prompt_id, finished):
    url = f"/dashboard/{prompt_id}/replays/{finished.public_id}/"
    response = web.post(f"{url}delete/")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{prompt_id}/replays/"
    assert ReplayRun.objects.count() == 0
    assert ReplayItem.objects.count() == 0
    assert web.get(url).status_code == 404


def test_the_list_shows_the_runs(web, prompt_id, finished):
    body = web.get(f"/dashboard/{prompt_id}/replays/", headers=hx("replay-runs")).content.decode()
    assert f'data-replay="{finished.public_id}"' in body
    assert "1 / 1" in body
    assert "alice" in body


# ------------------------------------------------------------------------------------------ access
def test_someone_elses_prompt_and_replays_are_not_found(web, settings, models, django_user_model):
    settings.STACKADMIN_AUTH_ENABLED = True
    bobs = two_versions(Principal("bob"))
    store_response(bobs, version=1, variables={"topic": "t"}, text="hi", answer="a", owner=Principal("bob"))
    assert web.get(f"/dashboard/{bobs}/replays/").status_code == 404
    assert web.get(f"/dashboard/{bobs}/replays/", headers=hx("replay-runs")).status_code == 404
    assert start(web, bobs).status_code == 404
    assert ReplayRun.objects.count() == 0
    run = async_to_sync(replay.replay_create)(
        spec=replay.ReplaySpec(prompt_id=bobs, candidate_version=2, source_version=1), principal=Principal("bob")
    )
    url = f"/dashboard/{bobs}/replays/{run.public_id}/"
    assert web.get(url).status_code == 404
    assert web.post(f"{url}cancel/").status_code == 404
    assert web.post(f"{url}delete/").status_code == 404
    assert only_run().status == "queued"


def test_the_list_costs_the_same_queries_for_one_replay_or_many(web, prompt_id):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert web.get(f"/dashboard/{prompt_id}/replays/", headers=hx("replay-runs")).status_code == 200
        return len(captured)

    start(web, prompt_id)
    one = queries()
    for _ in range(3):
        start(web, prompt_id)
    assert queries() == one
