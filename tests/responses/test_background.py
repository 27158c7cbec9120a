"""Background responses through the OpenAI SDK: create -> poll, streams resumed with `starting_after`, cancel, a
worker process killed in the middle of one, and the requests OpenAI refuses.

The server has two worker processes (a task may be claimed by either) and talks to the fake model server directly
(`live`): the tests need a stream that is still going (`#drip:SECONDS`), which a replay cannot give. Authentication
is on, so that another user's response is foreign.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.accounts import AUTH_CONFIG, make_users
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import provider_yaml, start_inference_server
from tests.support.live_server import free_port
from tests.support.postgres import connect, postgres_database, run_config
from tests.support.recording import MODE_ENV
from tests.support.waiting import wait_until

HERE = Path(__file__).parent
MODEL = "fake-model"
ACTIVE = ("queued", "in_progress")


@pytest.fixture(scope="module")
def fake():
    running = FakeUpstream(free_port()).start()
    yield running
    running.stop()


class Server:
    def __init__(self, running, database: str | None, keys: dict) -> None:
        self.running = running
        self.url = running.url
        self.database = database
        self.keys = keys

    def sdk(self, user: str = "alice") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.keys[user], max_retries=0, timeout=30)

    def http(self, user: str = "alice") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[user]}"}
        return httpx.Client(base_url=self.url + "/v1", headers=headers, timeout=30)

    def _query(self, query: str, value: str):
        """One row of the responses store (SQLite in the server's home, or the PostgreSQL database)."""
        if self.database is None:
            with contextlib.closing(sqlite3.connect(self.running.home / "sql_store.db")) as db:
                return db.execute(query.replace("%s", "?"), (value,)).fetchone()
        with connect(self.database) as db:
            return db.execute(query, (value,)).fetchone()

    def running_anywhere(self, response_id: str) -> bool:
        """Whether the task engine still has the response's task running (django-tasks-db's table)."""
        query = "SELECT status FROM django_tasks_database_dbtaskresult WHERE CAST(args_kwargs AS TEXT) LIKE %s"
        (status,) = self._query(query, f"%{response_id}%")
        return status == "RUNNING"

    def _execute(self, *statements: str) -> None:
        if self.database is None:
            with contextlib.closing(sqlite3.connect(self.running.home / "sql_store.db")) as db:
                for statement in statements:
                    db.execute(statement)
                db.commit()
            return
        with connect(self.database) as db:
            for statement in statements:
                db.execute(statement)

    @contextlib.contextmanager
    def refusing_new_runs(self):
        """The responses store refuses to insert a background run (a database error in the create's
        transaction), until the block ends."""
        if self.database is None:
            self._execute(
                "CREATE TRIGGER refuse_runs BEFORE INSERT ON openai_responses_background "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        else:
            self._execute(
                "CREATE FUNCTION refuse_runs() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; "
                "END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_runs BEFORE INSERT ON openai_responses_background "
                "FOR EACH ROW EXECUTE FUNCTION refuse_runs()",
            )
        try:
            yield
        finally:
            if self.database is None:
                self._execute("DROP TRIGGER refuse_runs")
            else:
                self._execute("DROP TRIGGER refuse_runs ON openai_responses_background", "DROP FUNCTION refuse_runs")

    def count(self, query: str, value: str = "") -> int:
        return self._query(query, value)[0]

    def task_of(self, response_id: str) -> tuple[str, str | None]:
        """The task engine's record of a background response's task: (status, return value as stored)."""
        query = (
            "SELECT status, CAST(return_value AS TEXT) FROM django_tasks_database_dbtaskresult "
            "WHERE CAST(args_kwargs AS TEXT) LIKE %s"
        )
        return self._query(query, f"%{response_id}%")

    def worker_of(self, response_id: str) -> str:
        """The task engine's worker id of the process running a background response (host:pid:random)."""
        row = self._query("SELECT worker_id FROM openai_responses_background WHERE response_id = %s", response_id)
        return row[0] if row else ""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory, fake):
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(postgres_database()) if request.param == "postgres" else None
        storage = run_config(database, stores=("responses", "conversations")) if database else ""
        running = start_inference_server(
            tmp_path_factory.mktemp("background"),
            tmp_path_factory.mktemp("no-recordings"),
            AUTH_CONFIG + provider_yaml(fake.url, storage=storage),
            workers=2,
            env={MODE_ENV: "live"},
        )
        stack.callback(running.stop)
        keys = {name: made["key"] for name, made in make_users(running, {"alice": {}, "bob": {}}).items()}
        yield Server(running, database, keys)


@pytest.fixture
def client(server):
    return server.sdk()


def finished(client: openai.OpenAI, response_id: str, timeout: float = 30):
    return wait_until(
        lambda: (r := client.responses.retrieve(response_id)).status not in ACTIVE and r,
        timeout=timeout,
        interval=0.05,
        what=f"{response_id} to finish",
    )


# ------------------------------------------------------------------------------------------ create, poll
def test_background_create_returns_queued_and_completes(client):
    created = client.responses.create(model=MODEL, input="compute this later", background=True)
    assert created.status == "queued"
    assert created.background is True
    assert created.output == []
    done = finished(client, created.id)
    assert done.status == "completed"
    assert done.background is True
    assert done.output_text == "Hello! You said: compute this later"
    assert done.usage.total_tokens > 0
    assert [i.id for i in client.responses.input_items.list(created.id)] != []
    follow_up = client.responses.create(model=MODEL, input="and then?", previous_response_id=created.id)
    assert follow_up.output_text == "Hello! You said: and then?"


def test_the_task_engine_records_how_the_task_ended(server, client):
    created = client.responses.create(model=MODEL, input="record me", background=True)
    assert finished(client, created.id).status == "completed"
    status, value = wait_until(
        lambda: (task := server.task_of(created.id))[0] != "RUNNING" and task, timeout=30, what="the task's end"
    )
    assert status == "SUCCESSFUL"
    assert value == '"completed"'


def test_a_create_whose_transaction_fails_leaves_nothing_behind(server, client):
    """The run starts while the create's transaction stores the response: when that transaction fails, the create
    is a 500 and its run, cancelled, writes nothing (no events, no task, no response), and the process goes on."""
    orphans = (
        "SELECT COUNT(*) FROM openai_responses_events WHERE response_id NOT IN "
        "(SELECT public_id FROM openai_responses) AND response_id <> %s"
    )
    before = server.count(orphans)
    tasks = "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult WHERE CAST(args_kwargs AS TEXT) <> %s"
    tasks_before = server.count(tasks)
    with server.refusing_new_runs(), pytest.raises(openai.InternalServerError):
        client.responses.create(model=MODEL, input="never stored, streamed slowly #drip:0.05", background=True)
    # Later work as long completes; by then the refused run had had its chance to write its events.
    after = client.responses.create(model=MODEL, input="stored again, streamed slowly #drip:0.05", background=True)
    assert finished(client, after.id).status == "completed"
    assert server.count(orphans) == before
    assert server.count(tasks) == tasks_before + 1
    assert server.count("SELECT COUNT(*) FROM openai_responses WHERE CAST(input_items AS TEXT) LIKE %s", "%never%") == 0


def test_a_foreground_response_says_it_is_not_background(client):
    assert client.responses.create(model=MODEL, input="now").background is False


def test_background_with_a_conversation_appends_the_turn(client):
    conversation = client.conversations.create()
    created = client.responses.create(model=MODEL, input="remember me", conversation=conversation.id, background=True)
    assert finished(client, created.id).status == "completed"
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.role for item in items] == ["user", "assistant"]


def test_a_failing_model_server_fails_the_background_response(client):
    created = client.responses.create(model=MODEL, input="#fail500 please", background=True)
    done = finished(client, created.id)
    assert done.status == "failed"
    assert done.error.code == "server_error"


# ------------------------------------------------------------------------------------------ streams
def test_background_stream_is_resumed_after_the_last_event_seen(client):
    stream = client.responses.create(model=MODEL, input="one two three #drip:0.05", background=True, stream=True)
    seen = []
    for event in stream:
        seen.append(event)
        if len(seen) == 6:
            break
    stream.close()
    assert [e.type for e in seen[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert seen[0].response.status == "queued"
    response_id = seen[0].response.id
    rest = list(client.responses.retrieve(response_id, stream=True, starting_after=seen[-1].sequence_number))
    assert [e.sequence_number for e in seen + rest] == list(range(len(seen) + len(rest)))
    assert rest[-1].type == "response.completed"
    text = "".join(e.delta for e in seen + rest if e.type == "response.output_text.delta")
    assert text == rest[-1].response.output_text == "Hello! You said: one two three #drip:0.05"


def test_a_finished_background_response_streams_all_its_events_again(client):
    created = client.responses.create(model=MODEL, input="replay me", background=True)
    finished(client, created.id)
    events = list(client.responses.retrieve(created.id, stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    last = events[-1].sequence_number
    assert list(client.responses.retrieve(created.id, stream=True, starting_after=last)) == []


def test_starting_after_beyond_a_finished_stream_is_a_400(client):
    created = client.responses.create(model=MODEL, input="short", background=True)
    finished(client, created.id)
    last = list(client.responses.retrieve(created.id, stream=True))[-1].sequence_number
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(created.id, stream=True, starting_after=last + 1)
    assert caught.value.body["param"] == "starting_after"
    assert f"ends with sequence number {last}" in caught.value.message


def test_a_foreground_response_cannot_be_streamed_later(client):
    done = client.responses.create(model=MODEL, input="now")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(done.id, stream=True)
    assert caught.value.body["param"] == "stream"


def test_a_negative_starting_after_is_a_400(server):
    with server.http() as http:
        answer = http.get("/responses/resp_x", params={"stream": "true", "starting_after": -1})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "starting_after"


# ------------------------------------------------------------------------------------------ cancel
def test_cancel_a_running_background_response(client):
    created = client.responses.create(model=MODEL, input="a very long answer indeed #drip:1", background=True)
    wait_until(lambda: client.responses.retrieve(created.id).status == "in_progress", timeout=30)
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert cancelled.id == created.id
    # The stream ends (the response is final) without a completion, and the response stays cancelled.
    events = list(client.responses.retrieve(created.id, stream=True))
    assert "response.completed" not in [e.type for e in events]
    assert client.responses.retrieve(created.id).status == "cancelled"
    assert client.responses.cancel(created.id).status == "cancelled"  # again: the same answer


def test_cancel_a_queued_background_response_before_it_runs(server, client):
    """Both workers busy is not needed: cancel right after create; whether it had started or not, it never
    completes."""
    created = client.responses.create(model=MODEL, input="never mind #drip:1", background=True)
    assert client.responses.cancel(created.id).status == "cancelled"
    assert client.responses.retrieve(created.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input="go on", previous_response_id=created.id)
    assert caught.value.code == "invalid_previous_response"


def test_cancel_of_a_finished_background_response_is_a_400(client):
    created = client.responses.create(model=MODEL, input="quick", background=True)
    finished(client, created.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(created.id)
    assert caught.value.body["message"] == "Cannot cancel a completed response."
    assert client.responses.retrieve(created.id).status == "completed"


def test_cancel_of_a_foreground_response_is_a_400(client):
    done = client.responses.create(model=MODEL, input="now")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(done.id)
    assert caught.value.body["message"] == "Only responses created with background=true can be cancelled."


def test_cancel_of_someone_elses_or_an_unknown_response_is_a_404(server, client):
    created = client.responses.create(model=MODEL, input="alice's #drip:0.2", background=True)
    with pytest.raises(openai.NotFoundError):
        server.sdk("bob").responses.cancel(created.id)
    with pytest.raises(openai.NotFoundError):
        server.sdk("bob").responses.retrieve(created.id, stream=True)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_" + "0" * 48)
    assert finished(client, created.id).status == "completed"


def test_deleting_a_running_background_response_stops_it(server, client):
    created = client.responses.create(model=MODEL, input="delete me midway #drip:0.5", background=True)
    wait_until(lambda: client.responses.retrieve(created.id).status == "in_progress", timeout=30)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id, stream=True)
    # Its run noticed at its next heartbeat and stopped: it is no longer running anywhere.
    wait_until(lambda: not server.running_anywhere(created.id), timeout=30, what="the run to stop")


def test_a_run_that_ends_after_its_response_was_cancelled_elsewhere_leaves_it_cancelled(server, client):
    """A cancel through another host reaches the run at its next heartbeat; a run that ends before then still makes
    its final write, which must leave the response cancelled and add none of its events (on PostgreSQL that write
    is one statement, its events inserted only with the response's update). Whichever comes first, the heartbeat
    or the end, the response stays cancelled and its stream has no completion."""
    created = client.responses.create(model=MODEL, input="cancelled behind its back #drip:0.05", background=True)
    wait_until(lambda: server.worker_of(created.id), timeout=30, what="a worker to take the response")
    # As a cancel through another host does it: the row only, the run's process not told.
    if server.database is None:
        cancelled = "json_set(response, '$.status', 'cancelled')"
    else:
        cancelled = """jsonb_set(response, '{status}', '"cancelled"')"""
    server._execute(
        f"UPDATE openai_responses SET status = 'cancelled', response = {cancelled} "
        f"WHERE public_id = '{created.id}' AND status = 'in_progress'"
    )
    wait_until(lambda: not server.running_anywhere(created.id), timeout=30, what="the run to end")
    assert client.responses.retrieve(created.id).status == "cancelled"
    completions = "SELECT COUNT(*) FROM openai_responses_events WHERE response_id = %s AND CAST(events AS TEXT) LIKE "
    assert server.count(completions + "'%%response.completed%%'", created.id) == 0
    assert "response.completed" not in [e.type for e in client.responses.retrieve(created.id, stream=True)]


# ------------------------------------------------------------------------------------------ bad input
def test_background_without_store_is_a_400_and_stores_nothing(server, client):
    with server.http() as http:  # the SDK has no list of responses (a llama-stack extension)
        before = http.get("/responses", params={"limit": 100}).json()["data"]
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model=MODEL, input="x", background=True, store=False)
        assert http.get("/responses", params={"limit": 100}).json()["data"] == before
    assert caught.value.body["param"] == "store"


def test_refusals_come_before_anything_is_queued(client):
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="gpt-nope", input="x", background=True)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model=MODEL, input="x", background=True, previous_response_id="resp_missing")


# ------------------------------------------------------------------------------------------ a worker dies
def test_a_worker_killed_mid_response_leaves_it_failed(server, client):
    created = client.responses.create(model=MODEL, input="a long one that will not end #drip:2", background=True)
    worker = wait_until(lambda: server.worker_of(created.id), timeout=30, what="a worker to take the response")
    pid = int(worker.split(":")[1])
    assert client.responses.retrieve(created.id).status == "in_progress"
    os.kill(pid, signal.SIGKILL)
    client = server.sdk()  # a new connection: the one kept alive may have been to the killed process
    failed = finished(client, created.id, timeout=60)
    assert failed.status == "failed"
    assert failed.error.code == "server_error"
    assert "stopped" in failed.error.message
    events = list(client.responses.retrieve(created.id, stream=True))
    assert events[-1].type == "response.failed"
    # Its task, inserted already claimed by the killed process, is failed in the task engine too.
    assert server.task_of(created.id)[0] == "FAILED"
    # The server still answers (uvicorn started another worker in place of the killed one).
    assert client.responses.create(model=MODEL, input="still here").status == "completed"


# ------------------------------------------------------------------------------------------ a full process
@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory, fake):
    """One worker process that computes one background response at a time: the next one waits, queued, until the
    runner's poll claims it from the task table."""
    running = start_inference_server(
        tmp_path_factory.mktemp("background-one"),
        tmp_path_factory.mktemp("no-recordings"),
        provider_yaml(fake.url),
        env={MODE_ENV: "live", "STACKADMIN_TASK_CAPACITY": "1"},
    )
    yield openai.OpenAI(base_url=running.url + "/v1", api_key="x", max_retries=0, timeout=30)
    running.stop()


def test_a_response_waits_queued_until_a_runner_has_room(one_at_a_time):
    client = one_at_a_time
    first = client.responses.create(model=MODEL, input="first in line #drip:0.3", background=True)
    second = client.responses.create(model=MODEL, input="second in line", background=True)
    assert client.responses.retrieve(second.id).status == "queued"
    done = finished(client, second.id)
    assert done.status == "completed"
    assert done.output_text == "Hello! You said: second in line"
    assert client.responses.retrieve(first.id).status == "completed"  # the runner had room only after the first
    events = list(client.responses.retrieve(second.id, stream=True))
    assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_a_queued_response_cancelled_never_runs(one_at_a_time):
    client = one_at_a_time
    first = client.responses.create(model=MODEL, input="hold the runner #drip:0.3", background=True)
    second = client.responses.create(model=MODEL, input="not wanted after all", background=True)
    assert client.responses.cancel(second.id).status == "cancelled"
    assert finished(client, first.id).status == "completed"
    # Whenever the runner takes the second task, it finds it cancelled and leaves it so.
    third = client.responses.create(model=MODEL, input="after both", background=True)
    assert finished(client, third.id).status == "completed"
    assert client.responses.retrieve(second.id).status == "cancelled"
    assert [e.type for e in client.responses.retrieve(second.id, stream=True)] == [
        "response.created",
        "response.queued",
    ]


# ------------------------------------------------------------------------------------------ llama-stack-client
def test_llama_stack_client_creates_and_polls_a_background_response(server, llama_stack_python):
    """llama-stack-client 0.7 sends `background` and retrieves; it has no cancel, stream resume or compact."""
    result = subprocess.run(
        [llama_stack_python, str(HERE / "llama_stack_background_check.py"), server.url, server.keys["alice"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_a_background_response_made_with_a_prompt_counts_in_its_usage(server, client):
    http = server.http()
    prompt_id = http.post("/prompts", json={"prompt": "Be brief."}).json()["prompt_id"]
    http.put(f"/prompts/{prompt_id}/labels/production", json={"version": 1})
    prompt = {"id": prompt_id, "version": "production"}
    created = client.responses.create(model=MODEL, input="count me later", prompt=prompt, background=True)
    done = finished(client, created.id)
    [version] = http.get(f"/prompts/{prompt_id}/usage").json()["versions"]
    assert version["requests"] == 1
    assert version["input_tokens"] == done.usage.input_tokens
    assert version["output_tokens"] == done.usage.output_tokens
    assert version["labels"] == ["default", "production"]
    assert version["latency_ms_p50"] is not None
