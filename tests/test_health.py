"""`/v1/health` (liveness) and `/v1/health/ready` (readiness) on live servers whose backends really fail: a bucket
whose server was stopped, a channel layer on a closed port, a PostgreSQL database cut off, a Redis KV store
stopped. No probe is mocked."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.support.live_server import free_port, stop_process
from tests.support.outages import cut_off
from tests.support.postgres import postgres_database
from tests.support.s3 import S3Emulator
from tests.support.services import PG
from tests.support.waiting import wait_until


def ready(server) -> httpx.Response:
    return httpx.get(server.url + "/v1/health/ready", timeout=30)


def not_ready(server, failing: str) -> dict:
    response = ready(server)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "not_ready"
    assert error["param"] == failing
    assert httpx.get(server.url + "/v1/health", timeout=30).status_code == 200  # still alive: do not restart it
    return error


def test_the_default_server_is_ready_and_says_what_it_checked(stackadmin_server):
    response = ready(stackadmin_server)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "OK"
    assert body["checks"] == {
        "storage.backends.kv_default": {"type": "kv_sqlite", "status": "ok"},
        "storage.backends.sql_default": {"type": "sql_sqlite", "status": "ok"},
        "files.storage": {"type": "local", "status": "ok"},
    }


def test_a_channel_layer_on_a_closed_port_is_named(start_server):
    port = free_port()  # nothing listens there
    server = start_server(
        "storage:\n  backends:\n"
        '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
        '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
        f"    events: {{type: kv_redis, host: 127.0.0.1, port: {port}}}\n"
        "server:\n  channel_layer: {backend: events}\n"
    )
    error = not_ready(server, "server.channel_layer")
    assert f"server.channel_layer (kv_redis): cannot reach Redis at 127.0.0.1:{port}" in error["message"]
    assert "storage.backends" not in error["message"]  # the others answered


def test_a_stopped_bucket_is_named(start_server, tmp_path):
    s3 = S3Emulator(tmp_path)
    try:
        server = start_server(s3.storage_yaml(s3.new_bucket()))
        assert ready(server).json()["checks"]["files.storage"] == {"type": "s3", "status": "ok"}
    finally:
        s3.stop()
    error = not_ready(server, "files.storage")
    assert "files.storage (s3): bucket 'stackadmin-" in error["message"]
    assert "cannot connect to the endpoint" in error["message"]


@pytest.mark.postgres
def test_a_postgres_database_cut_off_is_named(start_server):
    with postgres_database() as database:
        where = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}'
        server = start_server(
            "storage:\n  backends:\n"
            '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
            '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
            f"    pg: {{type: sql_postgres, {where}}}\n"
            "  stores:\n    conversations: {backend: pg, table_name: openai_conversations}\n"
        )
        assert ready(server).status_code == 200
        cut_off(database)
        error = not_ready(server, "storage.backends.pg")
        server.stop()  # before the database is dropped
    assert "storage.backends.pg (sql_postgres): cannot connect to PostgreSQL" in error["message"]


def test_a_redis_kv_store_that_stops_is_named(start_server, tmp_path):
    """A Redis of the test's own (the shared one must stay up), holding the prompts store, stopped for real."""
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0)
        server = start_server(
            "storage:\n  backends:\n"
            '    kv_default: {type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kvstore.db"}\n'
            '    sql_default: {type: sql_sqlite, db_path: "${env.STACKADMIN_HOME}/sql_store.db"}\n'
            f"    cache: {{type: kv_redis, host: 127.0.0.1, port: {port}}}\n"
            "  stores:\n    prompts: {backend: cache, namespace: prompts}\n"
        )
        assert ready(server).json()["checks"]["storage.backends.cache"] == {"type": "kv_redis", "status": "ok"}
    finally:
        stop_process(redis)
    error = not_ready(server, "storage.backends.cache")
    assert f"storage.backends.cache (kv_redis): cannot reach Redis at 127.0.0.1:{port}" in error["message"]
