"""The store write queue on PostgreSQL: read-your-write across worker processes, back-pressure, drain on shutdown.

The servers run with tiny queues (`max_write_queue_size: 2`, `num_writers: 2`) so that concurrent requests
really wait for room and share commits.
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.postgres import connect, postgres_database, run_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

RECORDINGS = recordings("inference")


@pytest.fixture
def pg_database():
    with postgres_database("sa_queue_") as name:
        yield name


def storage_yaml(database: str, *, size: int = 2, writers: int = 2) -> str:
    options = f", max_write_queue_size: {size}, num_writers: {writers}"
    return run_config(database, stores=("inference", "responses"), options=options)


def pg_count(database: str, table: str) -> int:
    with connect(database) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_readable_at_once_from_any_worker_under_concurrency(tmp_path, upstream, pg_database):
    server = start_inference_server(
        tmp_path, RECORDINGS, provider_yaml(upstream.url, storage=storage_yaml(pg_database)), workers=2
    )
    try:

        def one_client(n: int) -> tuple[int, int]:
            # A fresh client (so a fresh connection, often to the other worker) for every read.
            completion = sdk(server).chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "queued write"}]
            )
            sdk(server).chat.completions.retrieve(completion.id)
            previous = None
            for turn in ("first turn", "second turn", "third turn"):
                previous = sdk(server).responses.create(
                    model="fake-model", input=turn, previous_response_id=previous.id if previous else None
                )
                sdk(server).responses.retrieve(previous.id)
            return n, len(sdk(server).responses.input_items.list(previous.id).data)

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(one_client, range(32)))
        assert sorted(results) == [(n, 5) for n in range(32)]  # three turns: every input and output before the last
        assert pg_count(pg_database, "inference_store") == 32
        assert pg_count(pg_database, "openai_responses") == 96
    finally:
        server.stop()


def test_queued_writes_are_committed_on_shutdown(tmp_path, upstream, pg_database):
    """Writes whose clients gave up wait behind a table lock; SIGTERM still commits every one of them."""
    config = provider_yaml(upstream.url, storage=storage_yaml(pg_database, size=100, writers=1))
    # At `info` the server logs each step of its shutdown; the application's is where queued writes drain.
    server = start_inference_server(tmp_path, RECORDINGS, config, env={"STACKADMIN_SERVER_LOG_LEVEL": "info"})
    lock = connect(pg_database, autocommit=False)
    try:
        lock.execute("LOCK TABLE inference_store IN SHARE MODE")  # reads go on, inserts wait

        def give_up_waiting(_: int) -> None:
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=1.5)
            with pytest.raises(openai.APITimeoutError):
                client.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "queued write"}]
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(give_up_waiting, range(8)))
        assert pg_count(pg_database, "inference_store") == 0
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Waiting for application shutdown." in server.log_path.read_text(), timeout=30)
        assert server.process.poll() is None  # still draining: the writes are queued behind the lock
        assert "Application shutdown complete." not in server.log_path.read_text()
        lock.rollback()
        assert server.process.wait(timeout=30) is not None
        assert pg_count(pg_database, "inference_store") == 8
        assert "did not finish" not in server.log_path.read_text()
    finally:
        lock.close()
        server.stop()


def test_previous_response_id_never_races_its_write(tmp_path, upstream, pg_database):
    """llama-stack's queued responses store lost this race; here each next turn goes out the moment create returns."""
    server = start_inference_server(
        tmp_path, RECORDINGS, provider_yaml(upstream.url, storage=storage_yaml(pg_database)), workers=2
    )
    try:
        with httpx.Client(base_url=server.url + "/v1", timeout=30) as http:
            previous = None
            for turn in ("first turn", "second turn", "third turn") * 3:
                body = {"model": "fake-model", "input": turn}
                if previous:
                    body["previous_response_id"] = previous
                response = http.post("/responses", json=body)
                assert response.status_code == 200, response.text
                previous = response.json()["id"]
    finally:
        server.stop()
