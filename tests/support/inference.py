"""Live stackadmin servers wired to the fake model server, through the recorder.

`STACKADMIN_TEST_INFERENCE_MODE` (default `replay`) is passed on to the servers the tests start, with the
recordings directory beside the test package. In `replay` (CI) no model server runs at all: providers point at a
loopback port nobody listens on, so a request without its recording fails loudly instead of reaching anything.
In `record`, `record-if-missing` and `live` the fake upstream (tests/support/fake_upstream.py) runs in-process.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import openai

from tests.support.fake_upstream import FakeUpstream
from tests.support.live_server import LiveServer, free_port
from tests.support.recording import DIR_ENV, MODE_ENV, MODES, UPSTREAM_CLASS
from tests.support.search_recording import SEARCH_CLASS

PROVIDER_TIMEOUT = 2.0
TESTS = Path(__file__).resolve().parents[1]


def recordings(package: str) -> Path:
    """Where a test package's recorded model calls are kept: `tests/<package>/recordings/`."""
    return TESTS / package / "recordings"


def inference_mode() -> str:
    mode = os.environ.get(MODE_ENV) or "replay"
    if mode not in MODES:
        raise RuntimeError(f"{MODE_ENV}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


class Upstream:
    """Where providers point: the running fake, or (replay) a port with nothing behind it."""

    def __init__(self) -> None:
        self.mode = inference_mode()
        self.fake = FakeUpstream(free_port()).start() if self.mode != "replay" else None
        self.url = self.fake.url if self.fake else f"http://127.0.0.1:{free_port()}/v1"

    def stop(self) -> None:
        if self.fake:
            self.fake.stop()


def provider_yaml(url: str, *, models: bool = True, storage: str = "") -> str:
    text = f"""
providers:
  inference:
  - provider_id: fake
    provider_type: remote::openai
    config: {{base_url: "{url}", api_key: test-key, timeout: {PROVIDER_TIMEOUT}, max_retries: 0}}
  - provider_id: "${{env.NOT_SET_ANYWHERE:=__disabled__}}"
    provider_type: remote::openai
    config: {{base_url: "http://127.0.0.1:9/v1"}}
"""
    if models:
        text += """
registered_resources:
  models:
  - model_id: fake-model
    provider_id: fake
  - model_id: alias-model
    provider_id: fake
    provider_model_id: fake-model-2
"""
    return text + storage


def recorder_env(recordings: Path, mode: str | None = None) -> dict:
    """The environment of a server whose model calls and web searches go through the recorders
    (tests.support.recording, tests.support.search_recording)."""
    mode = mode or inference_mode()
    recorder = {MODE_ENV: mode, DIR_ENV: str(recordings)} if mode != "live" else {MODE_ENV: "live"}
    return {"STACKADMIN_UPSTREAM_CLASS": UPSTREAM_CLASS, "STACKADMIN_WEB_SEARCH_CLASS": SEARCH_CLASS, **recorder}


def start_inference_server(
    home: Path, recordings: Path, config_text: str, *, workers: int = 1, env: dict | None = None
) -> LiveServer:
    path = home / "run.yaml"
    path.write_text(config_text)
    clean = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}
    return LiveServer(home, str(path), workers=workers, env={**clean, **recorder_env(recordings), **(env or {})})


def sdk(server: LiveServer, *, timeout: float = 30, **kwargs) -> openai.OpenAI:
    """The OpenAI SDK on a live server's `/v1` (no retries: a test sees the first answer)."""
    return openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=timeout, **kwargs)


def raw_http(server: LiveServer, *, timeout: float = 30) -> httpx.Client:
    """Plain HTTP on a live server's `/v1`, for what the SDK does not send."""
    return httpx.Client(base_url=server.url + "/v1", timeout=timeout)
