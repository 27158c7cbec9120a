from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import httpx
import pytest

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server

RECORDINGS = recordings("responses")


@pytest.fixture(scope="package")
def responses_server(tmp_path_factory, upstream):
    server = start_inference_server(tmp_path_factory.mktemp("responses"), RECORDINGS, provider_yaml(upstream.url))
    yield server
    server.stop()


@pytest.fixture
def client(responses_server):
    return sdk(responses_server)


@pytest.fixture
def http(responses_server):
    with httpx.Client(base_url=responses_server.url + "/v1", timeout=30) as session:
        yield session


@pytest.fixture
def latest_schema_after():
    """For a test that migrates the test database back: migrate it forward again afterwards, as the later tests
    need the later migrations' tables."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("responses"))
