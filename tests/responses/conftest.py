from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.inference.harness import Upstream, provider_yaml, sdk, start_inference_server

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@pytest.fixture(scope="package")
def upstream():
    running = Upstream()
    yield running
    running.stop()


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
