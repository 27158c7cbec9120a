from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

import httpx
import pytest

from tests.support.fake_search import FakeSearch
from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server
from tests.support.live_server import free_port
from tests.support.mcp_server import GUARD_TOKEN, McpTestServer

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


# ------------------------------------------------------------------------------------------ the tools' outside world
# Running only while the model calls are recorded: in `replay` nothing listens at their URLs, as in CI.
@pytest.fixture(scope="module")
def mcp(upstream):
    """The MCP test server."""
    server = McpTestServer(running=upstream.mode != "replay")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def guarded(upstream):
    """An MCP server that wants `Authorization: Bearer GUARD_TOKEN`."""
    server = McpTestServer(running=upstream.mode != "replay", token=GUARD_TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def search_url(upstream):
    """The fake search provider's URL."""
    if upstream.mode == "replay":
        yield f"http://127.0.0.1:{free_port()}"
        return
    fake = FakeSearch(free_port()).start()
    yield fake.url
    fake.stop()
