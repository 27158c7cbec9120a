from __future__ import annotations

import pytest

from tests.support.inference import provider_yaml, recordings, sdk, start_inference_server

RECORDINGS = recordings("inference")


@pytest.fixture(scope="package")
def inference_server(tmp_path_factory, upstream):
    server = start_inference_server(tmp_path_factory.mktemp("inference"), RECORDINGS, provider_yaml(upstream.url))
    yield server
    server.stop()


@pytest.fixture
def client(inference_server):
    return sdk(inference_server)
