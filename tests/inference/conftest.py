from __future__ import annotations

from pathlib import Path

import pytest

from tests.inference.harness import Upstream, provider_yaml, sdk, start_inference_server

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@pytest.fixture(scope="package")
def upstream():
    running = Upstream()
    yield running
    running.stop()


@pytest.fixture(scope="package")
def inference_server(tmp_path_factory, upstream):
    server = start_inference_server(tmp_path_factory.mktemp("inference"), RECORDINGS, provider_yaml(upstream.url))
    yield server
    server.stop()


@pytest.fixture
def client(inference_server):
    return sdk(inference_server)
