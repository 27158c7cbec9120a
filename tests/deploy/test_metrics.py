"""`GET /metrics` (prometheus-client) on live servers: off by default; with `server.metrics.enabled`, after a
scripted load on two worker processes, the exposition parsed with prometheus-client's own parser adds up every
worker's requests, model calls, store commits and live-update connections; a KV backend outage is counted; with
authentication on, a scraper needs the metrics token or an API key."""

from __future__ import annotations

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.live_updates import dashboard_session
from tests.support.outages import cut_off
from tests.support.postgres import postgres_database
from tests.support.services import PG

RECORDINGS = recordings("deploy")
TOKEN = "metrics-token-0123456789"
METRICS_ON = f"server:\n  metrics: {{enabled: true, token: {TOKEN}}}\n"


def scrape(server, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of the server's `/metrics`, by (name, sorted labels)."""
    response = httpx.get(server.url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_by_default(stackadmin_server):
    response = httpx.get(stackadmin_server.url + "/metrics", timeout=30)
    assert response.status_code == 404


@pytest.fixture(scope="module")
def measured(tmp_path_factory, upstream):
    """Two workers with metrics on, and model calls through the recorder."""
    server = start_inference_server(
        tmp_path_factory.mktemp("metrics"), RECORDINGS, provider_yaml(upstream.url, storage=METRICS_ON), workers=2
    )
    yield server
    server.stop()


def test_a_scripted_load_is_counted_across_both_workers(measured):
    uploads, misses = 12, 5
    with sdk(measured) as client:
        for n in range(uploads):  # a new connection each time: the uploads spread over both workers
            with sdk(measured) as fresh:
                fresh.files.create(file=(f"m{n}.txt", b"metrics"), purpose="batch")
        for _ in range(misses):
            with pytest.raises(openai.NotFoundError):
                client.files.retrieve("file-" + "0" * 32)
        client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "count me"}])
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "#fail500"}])
        client.responses.create(model="fake-model", input="and me")
    samples = scrape(measured)
    requests = "stackadmin_http_requests_total"
    assert value(samples, requests, method="POST", route="/v1/files", status="200") == uploads
    assert value(samples, requests, method="GET", route="/v1/files/<file_id>", status="404") == misses
    histogram = "stackadmin_http_request_duration_seconds_count"
    assert value(samples, histogram, method="POST", route="/v1/files", status="200") == uploads
    assert (
        value(samples, "stackadmin_upstream_request_duration_seconds_count", provider="fake", model="fake-model") == 3
    )
    assert (
        value(samples, "stackadmin_upstream_errors_total", provider="fake", model="fake-model", code="upstream_error")
        == 1
    )
    assert value(samples, "stackadmin_store_commit_duration_seconds_count", store="inference") >= 1
    assert value(samples, "stackadmin_store_commit_duration_seconds_count", store="responses") >= 1
    assert value(samples, "stackadmin_store_write_queue_depth", store="responses") == 0  # all committed


def test_live_update_connections_are_counted_while_open(measured):
    from websockets.sync.client import connect

    session = dashboard_session(measured)
    headers = {"Cookie": f"sessionid={session}", "Origin": measured.url}
    url = measured.url.replace("http://", "ws://") + "/ws/prompts/"
    with connect(url, additional_headers=headers, open_timeout=10), connect(url, additional_headers=headers):
        assert value(scrape(measured), "stackadmin_live_update_connections") == 2
    from tests.support.waiting import wait_until

    wait_until(lambda: value(scrape(measured), "stackadmin_live_update_connections") == 0, timeout=10)


def test_with_authentication_on_a_scraper_needs_the_token_or_an_api_key(start_server):
    server = start_server(f"server:\n  auth: {{enabled: true}}\n  metrics: {{enabled: true, token: {TOKEN}}}\n")
    refused = httpx.get(server.url + "/metrics", timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer not-the-token"}, timeout=30)
    assert wrong.status_code == 401
    samples = scrape(server, Authorization=f"Bearer {TOKEN}")
    assert ("stackadmin_http_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "401"))) in samples
    key = server.manage("create_api_key", "admin").strip().split()[-1]
    assert httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code == 200


@pytest.mark.postgres
def test_a_kv_backend_outage_is_counted(start_server):
    with postgres_database() as database:
        where = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}'
        server = start_server(
            "storage:\n  backends:\n"
            '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
            '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
            f"    pg: {{type: kv_postgres, {where}}}\n"
            "  stores:\n    prompts: {backend: pg, namespace: prompts}\n" + METRICS_ON
        )
        assert httpx.post(server.url + "/v1/prompts", json={"prompt": "up"}, timeout=30).status_code == 200
        assert value(scrape(server), "stackadmin_kv_errors_total", backend="kv_postgres") == 0
        cut_off(database)
        assert httpx.post(server.url + "/v1/prompts", json={"prompt": "down"}, timeout=30).status_code == 503
        samples = scrape(server)
        server.stop()  # before the database is dropped
    assert value(samples, "stackadmin_kv_errors_total", backend="kv_postgres") >= 1
