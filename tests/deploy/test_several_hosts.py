"""Several stackadmin hosts behind one load balancer: two `stackadmin run` processes with different
STACKADMIN_HOMEs on different ports, sharing PostgreSQL (every SQL store, and the prompts and metadata KV stores on
`kv_postgres`), Redis (the live-update channel layer) and an S3-compatible bucket (moto's server on loopback).
Every API works through either host: what one writes, the other serves at once."""

from __future__ import annotations

import contextlib
import hashlib
import os

import httpx
import openai
import pytest

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.live_updates import dashboard_session, received
from tests.support.postgres import postgres_database
from tests.support.services import PG, REDIS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
RECORDINGS = recordings("deploy")
MiB = 1024 * 1024


def shared_config(*, database: str, s3, bucket: str, upstream_url: str) -> str:
    pg = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}'
    storage = f"""
storage:
  backends:
    kv_default: {{type: kv_postgres, {pg}}}
    sql_default: {{type: sql_postgres, {pg}}}
    events: {{type: kv_redis, host: {REDIS["host"]}, port: {REDIS["port"]}}}
server:
  channel_layer: {{backend: events}}
"""
    return provider_yaml(upstream_url, storage=storage + s3.storage_yaml(bucket))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory, s3, upstream):
    """Host A, then host B (started once A has migrated the shared database), with one secret key between them."""
    with postgres_database() as database, contextlib.ExitStack() as stack:
        config = shared_config(database=database, s3=s3, bucket=s3.new_bucket(), upstream_url=upstream.url)
        env = {"DJANGO_SECRET_KEY": "shared-by-every-host-" + "x" * 40}
        started = []
        for name in ("a", "b"):
            server = start_inference_server(tmp_path_factory.mktemp(f"host-{name}"), RECORDINGS, config, env=env)
            stack.callback(server.stop)
            started.append(server)
        yield started


def test_the_hosts_are_separate_processes_with_separate_homes(hosts):
    a, b = hosts
    assert a.port != b.port
    assert a.home != b.home
    assert a.process.pid != b.process.pid
    assert a.admin_password is not None  # A created the administrator in the shared database
    assert b.admin_password is None  # B found it there


def test_a_file_uploaded_through_a_downloads_through_b(hosts):
    a, b = hosts
    data = os.urandom(9 * MiB + 3)  # past the multipart threshold
    with sdk(a, timeout=60) as on_a, sdk(b, timeout=60) as on_b:
        uploaded = on_a.files.create(file=("shared.bin", data), purpose="assistants")
        assert on_b.files.retrieve(uploaded.id).bytes == len(data)
        assert hashlib.sha256(on_b.files.content(uploaded.id).content).digest() == hashlib.sha256(data).digest()
        assert uploaded.id in [f.id for f in on_b.files.list()]
        assert on_b.files.delete(uploaded.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            on_a.files.content(uploaded.id)
    assert not (a.home / "files" / uploaded.id[5:7]).exists()  # the bytes were never on A's disk


def test_a_prompt_written_on_a_is_listed_on_b_at_once(hosts):
    a, b = hosts
    with httpx.Client(timeout=30) as http:
        created = http.post(a.url + "/v1/prompts", json={"prompt": "Hello {{ name }}", "variables": ["name"]})
        created.raise_for_status()
        prompt_id = created.json()["prompt_id"]
        listed = http.get(b.url + "/v1/prompts").json()["data"]
        assert prompt_id in [p["prompt_id"] for p in listed]
        http.put(
            b.url + f"/v1/prompts/{prompt_id}", json={"prompt": "Hi {{ name }}", "version": 1, "variables": ["name"]}
        ).raise_for_status()
        latest = http.get(a.url + f"/v1/prompts/{prompt_id}").json()
        assert (latest["version"], latest["prompt"]) == (2, "Hi {{ name }}")


def test_previous_response_id_works_across_hosts(hosts):
    a, b = hosts
    with sdk(a) as on_a, sdk(b) as on_b:
        first = on_a.responses.create(model="fake-model", input="Remember the word heliotrope.")
        second = on_b.responses.create(model="fake-model", input="Which word?", previous_response_id=first.id)
        assert second.previous_response_id == first.id
        assert on_a.responses.retrieve(second.id).output_text == second.output_text
    # The fake model server counts the words of every message it is sent: B sent A's turn (4 words in, 7 out)
    # before the new question (2 words), which it could only read from the shared store.
    assert first.usage.input_tokens == 4
    assert second.usage.input_tokens == 4 + 7 + 2


def test_a_dashboard_on_b_updates_live_when_a_changes_a_prompt(hosts):
    from websockets.sync.client import connect

    a, b = hosts
    b.admin_password = a.admin_password  # one administrator for both hosts: it lives in the shared database
    session = dashboard_session(b)
    headers = {"Cookie": f"sessionid={session}", "Origin": b.url}
    with connect(b.url.replace("http://", "ws://") + "/ws/prompts/", additional_headers=headers, open_timeout=10) as ws:
        response = httpx.post(a.url + "/v1/prompts", json={"prompt": "live {{ x }}", "variables": ["x"]}, timeout=30)
        response.raise_for_status()
        prompt_id = response.json()["prompt_id"]
        ((event,),) = received([ws], {prompt_id}, 1)
    assert event == ("created", prompt_id, 1)
