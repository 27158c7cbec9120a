"""Fuzzing: every `/v1` operation of the OpenAPI document, called with generated requests on a live server.

Schemathesis generates requests from `/v1/openapi.json` (valid ones, and ones the document says are invalid) and
each answer must be: no 5xx; a status the operation declares; a declared content type; a body matching the declared
schema; and, for an error, OpenAI's envelope exactly. It runs on SQLite and on PostgreSQL (every store in a fresh
database; with authentication on, so the API key scheme is exercised too). The model server is the deterministic
fake one, called live; a generated `model` is replaced by one it serves, and a few valid creates are tried first
(`SEEDS`), so that creates reach it.

The run is bounded and reproducible: a fixed number of examples per operation, a derandomized (seeded) search.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.accounts import make_user
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import provider_yaml, start_inference_server
from tests.support.live_server import free_port
from tests.support.postgres import postgres_database
from tests.support.services import PG

AUTH = """
server:
  auth:
    enabled: true
"""


def postgres_storage(database: str) -> str:
    """Every store in `database`: the SQL ones and the KV ones (prompts, metadata)."""
    where = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}'
    return f"""
storage:
  backends:
    kv_default: {{type: kv_postgres, {where}, table_name: kv_store}}
    sql_default: {{type: sql_postgres, {where}}}
"""


EXAMPLES = 25  # per operation and generation mode (valid and invalid requests)


@dataclass(frozen=True)
class Target:
    """A live server under test and the headers every request to it carries (the API key)."""

    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fake_model_server():
    fake = FakeUpstream(free_port()).start()
    yield fake
    fake.stop()


@contextlib.contextmanager
def started(tmp_path_factory, config: str):
    server = start_inference_server(
        tmp_path_factory.mktemp("fuzz"),
        tmp_path_factory.mktemp("no-recordings"),
        config,
        env={"STACKADMIN_TEST_INFERENCE_MODE": "live"},
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(request, tmp_path_factory, fake_model_server):
    config = provider_yaml(fake_model_server.url)
    if request.param == "sqlite":
        with started(tmp_path_factory, config) as server:
            yield Target(server.url, {})
        return
    with (
        postgres_database() as database,
        started(tmp_path_factory, config + AUTH + postgres_storage(database)) as server,
    ):
        key = make_user(server, "fuzzer")["key"]
        yield Target(server.url, {"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def v1_schema(target):
    schema = schemathesis.openapi.from_url(target.url + "/v1/openapi.json")
    return schema


def documented_operations() -> list[str]:
    """`METHOD /path` of every operation of the document (as this code builds it; each test loads the live one)."""
    from stackadmin.api import api

    paths = api.get_openapi_schema(path_prefix="/v1/")["paths"]
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]


def served_model(case):
    """A create names a model the fake serves (an unknown one is a plain 404), so that it reaches the model call."""
    if isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
        case.body["model"] = "fake-model"
    return case


def openai_error_envelope(ctx, response, case):
    """An error is OpenAI's envelope exactly: `{"error": {"message", "type", "param", "code"}}`."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert sorted(error) == ["code", "message", "param", "type"], error
    assert isinstance(error["message"], str), error
    assert isinstance(error["type"], str), error
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    openai_error_envelope,
]
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same requests on every run
    deadline=timedelta(seconds=10),
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk
    suppress_health_check=list(HealthCheck),
)


# Valid requests that generation alone seldom finds, tried first: creates that reach the model server, as JSON and
# as a stream.
_MESSAGES = [{"role": "user", "content": "hi"}]
SEEDS = {
    "POST /v1/chat/completions": [
        {"model": "fake-model", "messages": _MESSAGES},
        {"model": "fake-model", "messages": _MESSAGES, "stream": True},
    ],
    "POST /v1/responses": [
        {"model": "fake-model", "input": "hi"},
        {"model": "fake-model", "input": "hi", "stream": True},
    ],
}


@pytest.mark.parametrize("label", documented_operations())
def test_operation_holds_to_its_document(v1_schema, target, label):
    method, path = label.split(" ", 1)
    operation = v1_schema[path][method]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        def call(case):
            case.call_and_validate(headers=target.headers, checks=CHECKS, timeout=30)

        test = given(case=operation.as_strategy(generation_mode=mode).map(served_model))(call)
        for body in SEEDS.get(label, []) if mode is GenerationMode.POSITIVE else []:
            test = example(case=operation.Case(body=body, media_type="application/json"))(test)
        try:
            BOUNDED(test)()
        except Unsatisfiable:
            # Only invalid requests are asked for, and the operation has none: no parameter or body with a rule to
            # break (`GET /v1/models`, an id of any form).
            assert mode is GenerationMode.NEGATIVE
