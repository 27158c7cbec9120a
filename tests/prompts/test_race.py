"""N concurrent updates quoting the same latest version: exactly one new version, N-1 conflicts, on every backend;
and a prompt deleted while updates race with the delete stays deleted."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from apps.core.errors import ConflictError
from apps.prompts import selectors, services
from apps.prompts.keys import label_range, prompt_range
from apps.storage.config import KVPostgresBackend, KVRedisBackend, KVSqliteBackend
from apps.storage.kv import build_kv_store
from tests.support import kv
from tests.support.kv import empty_redis_namespace
from tests.support.names import unique
from tests.support.postgres import drop_table
from tests.support.services import PG, REDIS, require_service

WRITERS = 16


@pytest.mark.parametrize("prompts_backend", ["sqlite", "postgres", "redis"], indirect=True)
def test_concurrent_updates_in_threads(prompts_backend):
    prompt = services.prompt_create(text="base")
    for round_no in range(1, 6):
        barrier = threading.Barrier(WRITERS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def update(i, round_no=round_no, barrier=barrier, outcomes=outcomes, lock=lock):
            barrier.wait()
            try:
                services.prompt_update(
                    prompt_id=prompt.prompt_id, text=f"round {round_no} writer {i}", version=round_no
                )
                result = "ok"
            except ConflictError:
                result = "conflict"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=update, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("ok") == 1, f"round {round_no}: {outcomes}"
        assert outcomes.count("conflict") == WRITERS - 1
        versions = selectors.prompt_versions_list(prompt_id=prompt.prompt_id)
        assert [v.version for v in versions] == list(range(1, round_no + 2))
        assert versions[-1].is_default


def _config(kind: str, table: str, namespace: str) -> str:
    if kind == "postgres":
        require_service("postgres")
        backend = (
            f"{{type: kv_postgres, host: {PG['host']}, port: {PG['port']}, db: {PG['db']}, "
            f"user: {PG['user']}, table_name: {table}}}"
        )
    else:
        require_service("redis")
        backend = f"{{type: kv_redis, host: {REDIS['host']}, port: {REDIS['port']}}}"
    return f"""
storage:
  backends:
    shared_kv: {backend}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
  stores:
    prompts: {{backend: shared_kv, namespace: {namespace}}}
    metadata: {{backend: shared_kv, namespace: {namespace}_registry}}
"""


@pytest.fixture
def cleanup_shared():
    made: list[tuple[str, str, str]] = []
    yield made
    for kind, table, namespace in made:
        if kind == "postgres":
            drop_table(table)
        else:
            empty_redis_namespace(namespace)


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_concurrent_updates_across_worker_processes(start_server, cleanup_shared, kind):
    table, namespace = unique("kv_race_"), unique("race_")
    if kind == "sqlite":  # the built-in default: one kvstore.db file shared by both worker processes
        server = start_server(None, workers=2)
    else:
        cleanup_shared.append((kind, table, namespace))
        server = start_server(_config(kind, table, namespace), workers=2)
    base = server.url + "/v1"
    created = httpx.post(f"{base}/prompts", json={"prompt": "base {{ x }}", "variables": ["x"]}).json()
    pid = created["prompt_id"]
    with httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_connections=WRITERS)) as client:
        for round_no in range(1, 4):

            def put(i, round_no=round_no):
                return client.put(f"/prompts/{pid}", json={"prompt": f"r{round_no} w{i}", "version": round_no})

            with ThreadPoolExecutor(WRITERS) as pool:
                statuses = sorted(r.status_code for r in pool.map(put, range(WRITERS)))
            assert statuses == [200] + [409] * (WRITERS - 1), statuses
        versions = client.get(f"/prompts/{pid}/versions").json()["data"]
        assert [v["version"] for v in versions] == [1, 2, 3, 4]
        # Every worker's list index notices the writes made by the other one.
        for _ in range(10):
            listed = client.get("/prompts").json()["data"]
            assert [(p["prompt_id"], p["version"]) for p in listed] == [(pid, 4)]
        client.put(f"/prompts/{pid}/set-default-version", json={"version": 2}).raise_for_status()
        for _ in range(10):
            assert [p["version"] for p in client.get("/prompts").json()["data"]] == [2]


BACKEND_MODELS = {"kv_sqlite": KVSqliteBackend, "kv_postgres": KVPostgresBackend, "kv_redis": KVRedisBackend}
DELETE_ROUNDS = 30


def _prompts_on(backend: dict, namespace: str) -> str:
    """A run config whose prompts store is `backend` (a JSON mapping is a YAML flow mapping)."""
    return f"""
storage:
  backends:
    shared_kv: {json.dumps(backend)}
    kv_default: {{type: kv_sqlite, db_path: "${{env.STACKADMIN_HOME}}/kvstore.db"}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
  stores:
    prompts: {{backend: shared_kv, namespace: {namespace}}}
"""


def _race_round(client: httpx.Client, prompt_id: str, round_no: int) -> dict[str, list[int]]:
    """One DELETE, six PUTs quoting version 2 and four set-defaults, released together: statuses by kind."""
    requests = [("delete", "DELETE", f"/prompts/{prompt_id}", None)]
    update = {"prompt": f"round {round_no}", "version": 2}
    requests += [("update", "PUT", f"/prompts/{prompt_id}", update)] * 6
    requests += [("set_default", "PUT", f"/prompts/{prompt_id}/set-default-version", {"version": 1})] * 4
    barrier = threading.Barrier(len(requests))

    def send(request):
        kind, method, path, body = request
        barrier.wait()
        return kind, client.request(method, path, json=body).status_code

    statuses: dict[str, list[int]] = {"delete": [], "update": [], "set_default": []}
    with ThreadPoolExecutor(len(requests)) as pool:
        for kind, status in pool.map(send, requests):
            statuses[kind].append(status)
    return statuses


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_a_deleted_prompt_stays_deleted_across_worker_processes(start_server, cleanup_shared, tmp_path, kind):
    """Updates and set-defaults that read the prompt before a DELETE must not write it back after: once the
    DELETE is acknowledged no key of the prompt is left (no version, no default pointer without versions), and
    two updates quoting the same version never both succeed."""
    backend, namespace = kv.backend_config(kind, tmp_path), unique("gone_")
    if kind != "sqlite":
        cleanup_shared.append((kind, backend.get("table_name", ""), namespace))
    server = start_server(_prompts_on(backend, namespace), workers=2)
    raw = build_kv_store(BACKEND_MODELS[backend["type"]](**backend), namespace)
    left_behind, doubled, failed, deletes = {}, {}, {}, []
    try:
        with httpx.Client(base_url=server.url + "/v1", timeout=30, limits=httpx.Limits(max_connections=11)) as client:
            for round_no in range(DELETE_ROUNDS):
                pid = client.post("/prompts", json={"prompt": "v1"}).json()["prompt_id"]
                client.put(f"/prompts/{pid}", json={"prompt": "v2", "version": 1}).raise_for_status()
                statuses = _race_round(client, pid, round_no)
                deletes += statuses["delete"]
                if any(status >= 500 for kind_statuses in statuses.values() for status in kind_statuses):
                    failed[round_no] = statuses
                if statuses["update"].count(200) > 1:
                    doubled[round_no] = statuses["update"]
                if keys := raw.keys_in_range(*prompt_range(pid)):
                    left_behind[round_no] = keys
            listed = client.get("/prompts").json()["data"]
    finally:
        raw.close()
    assert failed == {}
    assert deletes == [200] * DELETE_ROUNDS
    assert left_behind == {}, f"{len(left_behind)}/{DELETE_ROUNDS} rounds left keys behind"
    assert doubled == {}, f"{len(doubled)}/{DELETE_ROUNDS} rounds had two updates of version 2 succeed"
    assert listed == []


LABEL_ROUNDS = 10


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_label_moves_race_without_loss_across_worker_processes(start_server, cleanup_shared, tmp_path, kind):
    """Twelve moves of one label released together (and, every other round, a DELETE of the prompt among them):
    every acknowledged move is in the history exactly once, the label ends on a version one of them chose, and a
    label never outlives its prompt."""
    backend, namespace = kv.backend_config(kind, tmp_path), unique("labels_")
    if kind != "sqlite":
        cleanup_shared.append((kind, backend.get("table_name", ""), namespace))
    server = start_server(_prompts_on(backend, namespace), workers=2)
    raw = build_kv_store(BACKEND_MODELS[backend["type"]](**backend), namespace)
    problems: dict[int, str] = {}
    try:
        with httpx.Client(base_url=server.url + "/v1", timeout=30, limits=httpx.Limits(max_connections=13)) as client:
            for round_no in range(LABEL_ROUNDS):
                pid = client.post("/prompts", json={"prompt": "v1"}).json()["prompt_id"]
                for number in (2, 3):
                    client.put(f"/prompts/{pid}", json={"prompt": f"v{number}", "version": number - 1})
                moves = [("PUT", f"/prompts/{pid}/labels/production", {"version": 1 + i % 3}) for i in range(12)]
                deleting = round_no % 2 == 1
                requests = moves + ([("DELETE", f"/prompts/{pid}", None)] if deleting else [])
                barrier = threading.Barrier(len(requests))

                def send(request, barrier=barrier):
                    method, path, body = request
                    barrier.wait()
                    return request, client.request(method, path, json=body).status_code

                with ThreadPoolExecutor(len(requests)) as pool:
                    results = list(pool.map(send, requests))
                if any(status >= 500 for _, status in results):
                    problems[round_no] = f"server errors: {results}"
                    continue
                acknowledged = [
                    body["version"] for (method, _, body), status in results if method == "PUT" and status == 200
                ]
                answer = client.get(f"/prompts/{pid}/history", params={"limit": 100})
                assert answer.status_code == 200, answer.text
                history = answer.json()["data"]
                recorded = sorted(e["version"] for e in history if e["action"] == "label_moved")
                if recorded != sorted(acknowledged):
                    problems[round_no] = f"acknowledged {sorted(acknowledged)}, recorded {recorded}"
                if deleting:
                    if keys := raw.keys_in_range(*label_range(pid)):
                        problems[round_no] = f"labels left after the delete: {keys}"
                    continue
                final = client.get(f"/prompts/{pid}/labels").json()["data"]
                production = next(e["version"] for e in final if e["label"] == "production")
                if len(acknowledged) != 12 or production not in acknowledged:
                    problems[round_no] = f"label on {production}; acknowledged {acknowledged}"
                # A move acknowledged after the others is the one in place.
                client.put(f"/prompts/{pid}/labels/production", json={"version": 2}).raise_for_status()
                if client.get(f"/prompts/{pid}", params={"label": "production"}).json()["version"] != 2:
                    problems[round_no] = "the last acknowledged move is not in place"
    finally:
        raw.close()
    assert problems == {}


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_a_version_deleted_while_labels_move_onto_it_leaves_no_label_dangling(
    start_server, cleanup_shared, tmp_path, kind
):
    """A DELETE of version 2 released together with moves of labels onto version 2: either the delete wins (and
    every move after it fails) or a move does (and the delete is a 409); no label ever points at a deleted version."""
    backend, namespace = kv.backend_config(kind, tmp_path), unique("dangle_")
    if kind != "sqlite":
        cleanup_shared.append((kind, backend.get("table_name", ""), namespace))
    server = start_server(_prompts_on(backend, namespace), workers=2)
    problems: dict[int, str] = {}
    outcomes = {"deleted": 0, "refused": 0}
    with httpx.Client(base_url=server.url + "/v1", timeout=30, limits=httpx.Limits(max_connections=9)) as client:
        for round_no in range(LABEL_ROUNDS):
            pid = client.post("/prompts", json={"prompt": "v1"}).json()["prompt_id"]
            for number in (2, 3):
                client.put(
                    f"/prompts/{pid}", json={"prompt": f"v{number}", "version": number - 1, "set_as_default": False}
                )
            requests = [("PUT", f"/prompts/{pid}/labels/l{i}", {"version": 2}) for i in range(6)]
            requests += [("DELETE", f"/prompts/{pid}/versions/2", None)]
            barrier = threading.Barrier(len(requests))

            def send(request, barrier=barrier):
                method, path, body = request
                barrier.wait()
                return method, client.request(method, path, json=body).status_code

            with ThreadPoolExecutor(len(requests)) as pool:
                results = list(pool.map(send, requests))
            delete_status = next(status for method, status in results if method == "DELETE")
            if any(status >= 500 for _, status in results) or delete_status not in (200, 409):
                problems[round_no] = f"statuses {results}"
                continue
            outcomes["deleted" if delete_status == 200 else "refused"] += 1
            labels = {e["label"]: e["version"] for e in client.get(f"/prompts/{pid}/labels").json()["data"]}
            alive = {v["version"] for v in client.get(f"/prompts/{pid}/versions").json()["data"]}
            dangling = {name: number for name, number in labels.items() if number not in alive}
            if dangling:
                problems[round_no] = f"labels on a deleted version: {dangling}"
    assert problems == {}
    assert sum(outcomes.values()) == LABEL_ROUNDS
