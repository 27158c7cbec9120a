"""The hourly usage rollup kept by the database: after responses are inserted in batches, completed by updates
and deleted (one and many), its figures are exactly those of the responses, on SQLite and PostgreSQL; ranges that
do not start on a whole hour, and policies that name single responses, are answered from the responses."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import httpx
import pytest

from apps.core.policy import parse_policy
from apps.core.principal import Principal
from apps.prompts import services as prompts
from apps.responses.models import PromptUsageHour, StoredResponse
from apps.responses.selectors import UsageFilter, prompt_usage
from apps.responses.usage import UsageSource
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
    every_write_script,
    row_fields,
    usage_prompt,
)


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
class TestKeptByTheDatabase:
    @pytest.fixture
    def prompt_id(self):
        prompt_id = usage_prompt(versions=2)
        exec(every_write_script(prompt_id), {})  # the same writes the PostgreSQL test runs
        return prompt_id

    def test_the_figures_after_inserts_updates_and_deletes(self, prompt_id):
        assert UsageSource.of(prompt_ids=[prompt_id], filters=DAY_FILTER, principal=Principal("x")).hours is not None
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
        assert [v.as_api() for v in usage.versions] == EXPECTED_VERSIONS

    def test_the_series_after_inserts_updates_and_deletes(self, prompt_id):
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
        assert [p.as_api() for p in usage.series] == EXPECTED_SERIES

    def test_the_rollup_holds_one_row_per_key_and_hour_and_none_emptied(self, prompt_id):
        hours = PromptUsageHour.objects.filter(prompt_id=prompt_id)
        assert sum(h.requests for h in hours) == StoredResponse.objects.filter(prompt_id=prompt_id).count()
        assert not hours.filter(requests=0).exists()
        assert not hours.filter(model="other-model").exists()  # its only response was deleted

    def test_a_deleted_newest_use_gives_back_the_one_before(self, prompt_id):
        hours = PromptUsageHour.objects.filter(prompt_id=prompt_id, prompt_version=2, origin="api")
        [hour] = hours.filter(hour=(SINCE // 3600) + 12)
        assert hour.last_used_at == DAY.replace(hour=12, minute=40)

    def test_responses_without_a_prompt_are_not_rolled_up(self, prompt_id):
        StoredResponse.objects.bulk_create([StoredResponse(**{**row_fields("", 500, ROWS[0]), "prompt_version": None})])
        assert not PromptUsageHour.objects.filter(prompt_id="").exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_partial_hours_at_the_ends_are_read_from_the_responses():
    prompt_id = usage_prompt(versions=2)
    StoredResponse.objects.bulk_create(StoredResponse(**row_fields(prompt_id, i, row)) for i, row in enumerate(ROWS))
    # 10:10 to 12:20: half of hour 10 (the 10:20 use, not the 10:05 one), hour 11 whole, and 12:00 and 12:10.
    since, until = DAY.replace(hour=10, minute=10), DAY.replace(hour=12, minute=20)
    filters = UsageFilter(since=since, until=until)
    source = UsageSource.of(prompt_ids=[prompt_id], filters=filters, principal=Principal("x"))
    assert source.rest is not None
    usage = prompt_usage(prompt_id=prompt_id, filters=filters, bucket="hour")
    assert {v.version: v.requests for v in usage.versions} == {1: 3, 2: 2}
    assert {v.version: v.input_tokens for v in usage.versions} == {1: 60, 2: 12}
    assert [(p.start.hour, p.version, p.requests) for p in usage.series] == [
        (10, 1, 1),
        (11, 1, 1),
        (11, 2, 1),
        (12, 1, 1),
        (12, 2, 1),
    ]
    assert [v.latency_ms_p50 for v in usage.versions] == [50, 300]


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_a_policy_naming_single_responses_is_applied_to_the_responses(settings):
    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"permit": {"actions": ["read"], "resource": "prompt::*"}},
            {"permit": {"actions": ["read"], "resource": f"response::{row_fields('p', 0, ROWS[0])['public_id']}"}},
        ]
    )
    prompt_id = usage_prompt(versions=2)
    fields = [row_fields(prompt_id, i, row) for i, row in enumerate(ROWS)]
    fields[0]["public_id"] = row_fields("p", 0, ROWS[0])["public_id"]
    StoredResponse.objects.bulk_create(StoredResponse(**f) for f in fields)
    reader = Principal("reader")
    assert UsageSource.of(prompt_ids=[prompt_id], filters=DAY_FILTER, principal=reader).hours is None
    usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, principal=reader)
    assert [(v.version, v.requests, v.input_tokens) for v in usage.versions] == [(1, 1, 10)]


@pytest.mark.postgres
def test_the_same_writes_and_figures_on_postgresql(tmp_path):
    with postgres_database() as database:
        config = tmp_path / "run.yaml"
        config.write_text(run_config(database, stores=("responses",), options=", num_writers: 2"))
        server = LiveServer(tmp_path, str(config))
        try:
            with httpx.Client(base_url=server.url + "/v1", timeout=30) as http:
                prompt_id = http.post("/prompts", json={"prompt": "v1 {{ q }}", "variables": ["q"]}).json()["prompt_id"]
                http.put(f"/prompts/{prompt_id}", json={"prompt": "v {{ q }}", "variables": ["q"], "version": 1})
                assert server.manage("shell", "-c", every_write_script(prompt_id)).split()[-1] == str(len(ROWS))
                body = http.get(f"/prompts/{prompt_id}/usage", params={"since": SINCE, "until": UNTIL}).json()
                partial = http.get(
                    f"/prompts/{prompt_id}/usage", params={"since": SINCE + 10 * 3600 + 600, "until": UNTIL}
                ).json()
        finally:
            server.stop()
    assert body["versions"] == EXPECTED_VERSIONS
    assert body["series"] == EXPECTED_SERIES
    assert {v["version"]: v["requests"] for v in partial["versions"]} == {1: 3, 2: 3}


@pytest.mark.django_db
@pytest.mark.usefixtures("prompts_backend")
def test_the_usage_queries_do_not_grow_with_versions_responses_or_hours(django_assert_num_queries):
    prompt_id = usage_prompt(versions=2)
    StoredResponse.objects.bulk_create(StoredResponse(**row_fields(prompt_id, i, row)) for i, row in enumerate(ROWS))
    # Totals from the rollup, the chat completions' totals, the percentiles, the series from the rollup.
    with django_assert_num_queries(4):
        prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
    for version in range(2, 6):
        prompts.prompt_update(prompt_id=prompt_id, text=f"v{version + 1} {{{{ q }}}}", variables=["q"], version=version)
        more = [
            (version + 1, DAY.replace(hour=h), "completed", 1, 1, 0, 9, None, "", "fake-model", "api")
            for h in range(24)
        ]
        StoredResponse.objects.bulk_create(
            StoredResponse(**row_fields(prompt_id, 100 * version + i, row)) for i, row in enumerate(more)
        )
    with django_assert_num_queries(4):
        usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
    assert len(usage.versions) == 6
    # A range cut inside hours also reads its partial hours from the responses: their totals and their series.
    cut = UsageFilter(since=DAY.replace(minute=30), until=DAY.replace(hour=23, minute=30))
    with django_assert_num_queries(6):
        prompt_usage(prompt_id=prompt_id, filters=cut, bucket="hour")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after", "prompts_backend")
def test_the_migration_rolls_up_the_responses_already_stored():
    before, after = [("responses", "0005_usage_backfill")], [("responses", "0006_usage_hourly_rollup")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("responses", "StoredResponse")
    prompt_id = usage_prompt(versions=2)
    old.objects.bulk_create(old(**row_fields(prompt_id, i, row)) for i, row in enumerate(ROWS))
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    assert UsageSource.of(prompt_ids=[prompt_id], filters=DAY_FILTER, principal=Principal("x")).hours is not None
    usage = prompt_usage(prompt_id=prompt_id, filters=DAY_FILTER, bucket="hour")
    assert [v.as_api() for v in usage.versions] == EXPECTED_VERSIONS
    assert [p.as_api() for p in usage.series] == EXPECTED_SERIES
