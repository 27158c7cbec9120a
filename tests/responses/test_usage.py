"""Usage per prompt version from stored responses: every figure against rows with known values, on SQLite
in-process and on PostgreSQL through a live server; the JSON route, its parameters and its access rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model

import httpx
import pytest

from apps.accounts import services as accounts
from apps.core.errors import BadRequestError, NotFoundError
from apps.core.principal import Principal
from apps.responses.config import parse_usage
from apps.responses.models import StoredResponse
from apps.responses.selectors import UsageFilter, prompt_usage, prompts_daily_requests
from tests.support.live_server import LiveServer
from tests.support.postgres import postgres_database, run_config
from tests.support.usage import (
    DAY,
    DAY_FILTER,
    EXPECTED_SERIES,
    EXPECTED_VERSIONS,
    ROWS,
    SINCE,
    UNTIL,
    at,
    insert_script,
    row_fields,
    usage_prompt,
)


def store_rows(prompt_id: str, rows=ROWS, *, start: int = 0, **fields) -> None:
    StoredResponse.objects.bulk_create(
        StoredResponse(**{**row_fields(prompt_id, i, row), **fields}) for i, row in enumerate(rows, start)
    )


# ------------------------------------------------------------------------------------------ the selector
@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
class TestFigures:
    @pytest.fixture
    def prompt_id(self):
        prompt_id = usage_prompt(versions=3)
        store_rows(prompt_id)
        other = usage_prompt(versions=3)
        store_rows(other, rows=ROWS[:2])  # another prompt's use counts for that prompt only
        return prompt_id

    def test_every_figure_per_version(self, prompt_id):
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
        assert [v.as_api() for v in usage.versions] == EXPECTED_VERSIONS

    def test_series_per_hour_by_version(self, prompt_id):
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
        assert [p.as_api() for p in usage.series] == EXPECTED_SERIES

    def test_series_per_day(self, prompt_id):
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="day")
        assert [p.as_api() for p in usage.series] == [
            {"start": SINCE, "version": 1, "requests": 4, "errors": 1},
            {"start": SINCE, "version": 2, "requests": 3, "errors": 1},
        ]

    def test_without_a_range_every_use_counts(self, prompt_id):
        usage = prompt_usage(prompt_id=prompt_id)
        assert {v.version: v.requests for v in usage.versions} == {1: 5, 2: 3}
        assert usage.bucket == "day"

    def test_label_filter_keeps_uses_made_while_the_label_pointed_at_the_version(self, prompt_id):
        staging = prompt_usage(prompt_id=prompt_id, filters=UsageFilter(since=DAY, label="staging"))
        assert [(v.version, v.requests, v.errors, v.incomplete) for v in staging.versions] == [(1, 2, 1, 1)]
        production = prompt_usage(prompt_id=prompt_id, filters=UsageFilter(since=DAY, label="production"))
        assert [(v.version, v.requests) for v in production.versions] == [(2, 3)]

    def test_playground_runs_are_left_out_unless_asked_for(self, prompt_id):
        filters = UsageFilter(since=DAY, include_playground=True)
        usage = prompt_usage(prompt_id=prompt_id, filters=filters)
        assert {v.version: v.requests for v in usage.versions} == {1: 4, 2: 4}

    def test_cost_from_the_price_table(self, prompt_id, settings):
        prices = parse_usage({"prices": {"fake-model": {"input": 2, "output": 10}}})
        settings.STACKADMIN_RUN_CONFIG = replace(settings.STACKADMIN_RUN_CONFIG, usage=prices)
        versions = {v.version: v for v in _usage_of_rows(prompt_id).versions}
        assert versions[1].cost == pytest.approx((70 * 2 + 27 * 10) / 1_000_000)
        assert versions[2].cost is None  # version 2 was also used with alias-model, which has no price

    def test_a_range_that_ends_before_it_starts_is_refused(self, prompt_id):
        with pytest.raises(BadRequestError) as caught:
            prompt_usage(prompt_id=prompt_id, filters=UsageFilter(since=DAY, until=DAY))
        assert caught.value.param == "until"

    def test_too_many_hours_are_refused(self, prompt_id):
        with pytest.raises(BadRequestError) as caught:
            prompt_usage(prompt_id=prompt_id, filters=UsageFilter(since=DAY.replace(year=2020)), bucket="hour")
        assert caught.value.param == "bucket"

    def test_an_unused_prompt_has_no_versions_and_no_series(self):
        usage = prompt_usage(prompt_id=usage_prompt(versions=3))
        assert (usage.versions, usage.series) == ([], [])

    def test_daily_requests_for_sparklines(self, prompt_id):
        now = at(23)
        daily = prompts_daily_requests(prompt_ids=[prompt_id], days=3, now=now)
        assert daily == {prompt_id: [0, 1, 7]}  # 30 Oct, 31 Oct, 1 Nov (the playground run left out)


def _usage_of_rows(prompt_id):
    return prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_someone_elses_prompt_is_not_found_and_only_readable_responses_count(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    alice, bob = Principal("alice"), Principal("bob")
    prompt_id = usage_prompt(versions=3, principal=alice)
    store_rows(prompt_id, rows=ROWS[:2], owner_principal="alice")
    store_rows(prompt_id, rows=ROWS[2:4], start=2, owner_principal="bob")
    with pytest.raises(NotFoundError):
        prompt_usage(prompt_id=prompt_id, principal=bob)
    usage = prompt_usage(prompt_id=prompt_id, principal=alice, filters=DAY_FILTER)
    assert [(v.version, v.requests) for v in usage.versions] == [(1, 2)]  # bob's responses are not alice's to see


# ------------------------------------------------------------------------------------------ the JSON route
@pytest.fixture
def route_prompt(prompts_backend, transactional_db):
    prompt_id = usage_prompt(versions=3)
    store_rows(prompt_id)
    return prompt_id


async def test_the_route_answers_every_figure(v1, route_prompt):
    response = await v1.get(f"/v1/prompts/{route_prompt}/usage", params={"since": SINCE, "until": UNTIL})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "prompt.usage"
    assert body["prompt_id"] == route_prompt
    assert (body["since"], body["until"], body["bucket"]) == (SINCE, UNTIL, "hour")
    assert body["versions"] == EXPECTED_VERSIONS
    assert body["series"] == EXPECTED_SERIES


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": SINCE, "since": UNTIL}, "until"),
        ({"label": "Not A Label"}, "label"),
        ({"bucket": "week"}, "bucket"),
        ({"since": 0, "bucket": "hour"}, "bucket"),
        ({"since": 10**18}, "since"),
    ],
)
async def test_bad_parameters_are_openai_shaped_400s(v1, route_prompt, params, param):
    response = await v1.get(f"/v1/prompts/{route_prompt}/usage", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_an_unknown_prompt_is_a_404(v1, route_prompt):
    response = await v1.get(f"/v1/prompts/pmpt_{'0' * 48}/usage")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "prompt_id"


@pytest.fixture
def keys(settings, transactional_db):
    settings.STACKADMIN_AUTH_ENABLED = True
    users = {name: get_user_model().objects.create_user(name) for name in ("alice", "bob")}
    return {name: accounts.api_key_create(user=user)[1] for name, user in users.items()}


@pytest.fixture
def alices_prompt(prompts_backend, keys):
    return usage_prompt(versions=3, principal=Principal("alice"))


async def test_another_users_prompt_is_a_404_over_http(v1, alices_prompt, keys):
    prompt_id = alices_prompt
    url = f"/v1/prompts/{prompt_id}/usage"
    mine = await v1.get(url, headers={"Authorization": f"Bearer {keys['alice']}"})
    assert mine.status_code == 200
    theirs = await v1.get(url, headers={"Authorization": f"Bearer {keys['bob']}"})
    assert theirs.status_code == 404
    assert theirs.json()["error"]["message"] == f"Prompt '{prompt_id}' not found."
    anonymous = await v1.get(url)
    assert anonymous.status_code == 401


# ------------------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_the_same_figures_on_postgresql(tmp_path):
    with postgres_database() as database:
        config = tmp_path / "run.yaml"
        config.write_text(run_config(database, stores=("responses",)))
        server = LiveServer(tmp_path, str(config))
        try:
            with httpx.Client(base_url=server.url + "/v1", timeout=30) as http:
                prompt_id = http.post("/prompts", json={"prompt": "v1 {{ q }}", "variables": ["q"]}).json()["prompt_id"]
                for version in (1, 2):
                    http.put(
                        f"/prompts/{prompt_id}", json={"prompt": "v {{ q }}", "variables": ["q"], "version": version}
                    )
                assert server.manage("shell", "-c", insert_script(prompt_id)).split()[-1] == str(len(ROWS))
                body = http.get(f"/prompts/{prompt_id}/usage", params={"since": SINCE, "until": UNTIL}).json()
        finally:
            server.stop()
    assert body["versions"] == EXPECTED_VERSIONS
    assert body["series"] == EXPECTED_SERIES


# ------------------------------------------------------------------------------------------ recorded at use
def test_a_response_made_with_a_prompt_records_what_usage_needs(client, http):
    """Through the real SDK: tokens, timings and the labels at use are stored with each response."""
    prompt_id = http.post("/prompts", json={"prompt": "You are usage check {{ n }}.", "variables": ["n"]}).json()
    prompt_id = prompt_id["prompt_id"]
    http.put(f"/prompts/{prompt_id}/labels/production", json={"version": 1})
    plain = client.responses.create(
        model="fake-model", prompt={"id": prompt_id, "version": "production", "variables": {"n": "1"}}, input="one"
    )
    with client.responses.stream(
        model="fake-model", prompt={"id": prompt_id, "variables": {"n": "2"}}, input="two words"
    ) as stream:
        list(stream)
        streamed = stream.get_final_response()
    body = http.get(f"/prompts/{prompt_id}/usage").json()
    [version] = body["versions"]
    assert version["version"] == 1
    assert version["requests"] == 2
    assert version["errors"] == 0
    assert version["input_tokens"] == plain.usage.input_tokens + streamed.usage.input_tokens
    assert version["output_tokens"] == plain.usage.output_tokens + streamed.usage.output_tokens
    assert version["labels"] == ["default", "production"]
    assert version["latency_ms_p50"] is not None
    assert version["first_token_ms_p50"] is not None  # only the stream has a first token
    assert version["first_token_ms_p50"] == version["first_token_ms_p95"]
    assert version["last_used_at"] >= plain.created_at
    assert [point["requests"] for point in body["series"]] == [2]


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_finished_days_of_sparklines_are_counted_once_and_today_always():
    prompt_id = usage_prompt(versions=3)
    now = datetime.now(UTC)
    yesterday, today = now - timedelta(days=1), now
    first = [(1, yesterday, "completed", 1, 1, 0, 10, None, "|default|", "fake-model", "api")]
    store_rows(prompt_id, rows=first)
    assert prompts_daily_requests(prompt_ids=[prompt_id], days=2, now=now) == {prompt_id: [1, 0]}
    more = [(1, yesterday, "completed", 1, 1, 0, 10, None, "", "fake-model", "api")] * 2
    more += [(1, today, "completed", 1, 1, 0, 10, None, "", "fake-model", "api")]
    store_rows(prompt_id, rows=more, start=1)
    # Yesterday's count is the one kept for the hour; today's is counted on every call.
    assert prompts_daily_requests(prompt_ids=[prompt_id], days=2, now=now) == {prompt_id: [1, 1]}
