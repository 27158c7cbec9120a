"""The recorder around a provider client, exercised against the fake model server over real HTTP."""

from __future__ import annotations

import json

import pytest

from apps.core.errors import UpstreamError, UpstreamTimeoutError
from apps.inference.config import InferenceProvider
from apps.inference.upstream import OpenAIUpstream
from tests.support.fake_upstream import FakeUpstream
from tests.support.live_server import free_port
from tests.support.recording import (
    DIR_ENV,
    MODE_ENV,
    EnvRecordingUpstream,
    RecordingNotFoundError,
    RecordingUpstream,
    recorder_settings,
    request_hash,
)


@pytest.fixture(scope="module")
def fake():
    running = FakeUpstream(free_port()).start()
    yield running
    running.stop()


_opened: list[OpenAIUpstream | EnvRecordingUpstream] = []


def upstream(url: str, timeout: float = 5.0) -> OpenAIUpstream:
    opened = OpenAIUpstream(InferenceProvider("fake", "remote::openai", url, "k", timeout=timeout, max_retries=0))
    _opened.append(opened)
    return opened


@pytest.fixture(autouse=True)
async def close_upstreams():
    """Each test's clients are closed on the test's own event loop (aiohttp sessions belong to it)."""
    yield
    while _opened:
        await _opened.pop().aclose()


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def body(text: str, **extra) -> dict:
    return {"model": "fake-model", "messages": [{"role": "user", "content": text}], **extra}


async def collect(stream) -> list[dict]:
    return [chunk async for chunk in stream]


async def test_record_then_replay_without_any_server(fake, tmp_path):
    recorder = RecordingUpstream(upstream(fake.url), mode="record", directory=tmp_path)
    live = await recorder.chat(body("hello", temperature=0.3))
    (path,) = tmp_path.glob("*.json")
    assert path.name.startswith("chat-completions-")
    saved = json.loads(path.read_text())
    assert saved["request"] == {
        "method": "POST",
        "endpoint": "/chat/completions",
        "body": body("hello", temperature=0.3),
    }
    assert saved["response"]["body"]["choices"][0]["message"]["content"] == "Hello! You said: hello"
    assert saved["response"]["body"]["id"].startswith("rec-")  # normalised, so re-recording does not churn

    replayer = RecordingUpstream(upstream(dead_url()), mode="replay", directory=tmp_path)
    first, second = (
        await replayer.chat(body("hello", temperature=0.3)),
        await replayer.chat(body("hello", temperature=0.3)),
    )
    assert first["choices"] == live["choices"]
    assert first["id"].startswith("chatcmpl-")
    assert first["id"] != second["id"] != live["id"]


async def test_hash_ignores_key_order_and_float_noise():
    a = request_hash("POST", "/chat/completions", {"model": "m", "temperature": 0.1 + 0.2, "messages": []})
    b = request_hash("POST", "/chat/completions", {"messages": [], "temperature": 0.3, "model": "m"})
    c = request_hash("POST", "/chat/completions", {"messages": [], "temperature": 0.4, "model": "m"})
    assert a == b != c


async def test_replay_names_the_missing_recording(tmp_path):
    replayer = RecordingUpstream(upstream(dead_url()), mode="replay", directory=tmp_path)
    with pytest.raises(RecordingNotFoundError) as caught:
        await replayer.chat(body("never recorded"))
    message = caught.value.message
    assert str(tmp_path) in message
    assert "chat-completions-" in message
    assert "record-if-missing" in message
    assert caught.value.status_code == 502
    assert caught.value.code == "recording_not_found"


async def test_record_if_missing_replays_what_exists_and_records_the_rest(fake, tmp_path):
    await RecordingUpstream(upstream(fake.url), mode="record", directory=tmp_path).chat(body("one"))
    # The server is gone: the existing recording still answers, the missing one fails to reach it (and is not saved).
    gone = RecordingUpstream(upstream(dead_url()), mode="record-if-missing", directory=tmp_path)
    assert (await gone.chat(body("one")))["choices"][0]["message"]["content"] == "Hello! You said: one"
    with pytest.raises(UpstreamError) as caught:
        await gone.chat(body("two"))
    assert caught.value.code == "upstream_unreachable"
    assert len(list(tmp_path.glob("*.json"))) == 2  # the failure itself is recorded, like any answer

    back = RecordingUpstream(upstream(fake.url), mode="record-if-missing", directory=tmp_path)
    (tmp_path / next(p.name for p in tmp_path.glob("*.json") if "error" in p.read_text())).unlink()
    assert (await back.chat(body("two")))["choices"][0]["message"]["content"] == "Hello! You said: two"


async def test_streams_and_their_failures_replay_exactly(fake, tmp_path):
    recorder = RecordingUpstream(upstream(fake.url), mode="record", directory=tmp_path)
    live = await collect(await recorder.chat_stream(body("stream this", stream=True)))
    broken_live: list[dict] = []
    with pytest.raises(UpstreamError):
        async for chunk in await recorder.chat_stream(body("#midstream please", stream=True)):
            broken_live.append(chunk)

    replayer = RecordingUpstream(upstream(dead_url()), mode="replay", directory=tmp_path)
    replayed = await collect(await replayer.chat_stream(body("stream this", stream=True)))
    assert [c["choices"] for c in replayed] == [c["choices"] for c in live]
    assert len({c["id"] for c in replayed}) == 1
    broken: list[dict] = []
    with pytest.raises(UpstreamError) as caught:
        async for chunk in await replayer.chat_stream(body("#midstream please", stream=True)):
            broken.append(chunk)
    assert len(broken) == len(broken_live) == 3
    assert caught.value.code == "upstream_unreachable"


async def test_errors_are_recorded_as_errors(fake, tmp_path):
    recorder = RecordingUpstream(upstream(fake.url, timeout=0.5), mode="record", directory=tmp_path)
    with pytest.raises(UpstreamTimeoutError):
        await recorder.chat(body("#slow:3"))
    with pytest.raises(UpstreamError) as failed:
        await recorder.chat(body("#fail500"))
    assert "exploded" in failed.value.message
    replayer = RecordingUpstream(upstream(dead_url()), mode="replay", directory=tmp_path)
    with pytest.raises(UpstreamTimeoutError):
        await replayer.chat(body("#slow:3"))
    with pytest.raises(UpstreamError) as replayed:
        await replayer.chat(body("#fail500"))
    assert replayed.value.message == failed.value.message


async def test_model_lists_are_recorded_per_provider(fake, tmp_path):
    recorder = RecordingUpstream(upstream(fake.url), mode="record", directory=tmp_path)
    models = await recorder.list_models()
    assert [m["id"] for m in models] == ["fake-model", "fake-model-2"]
    replayer = RecordingUpstream(upstream(dead_url()), mode="replay", directory=tmp_path)
    assert await replayer.list_models() == models


def test_settings_come_from_the_environment(tmp_path):
    assert recorder_settings({}) == ("live", None)
    assert recorder_settings(
        {"STACKADMIN_TEST_INFERENCE_MODE": "replay", "STACKADMIN_TEST_RECORDING_DIR": str(tmp_path)}
    ) == (
        "replay",
        tmp_path,
    )
    with pytest.raises(ValueError, match="needs STACKADMIN_TEST_RECORDING_DIR"):
        recorder_settings({"STACKADMIN_TEST_INFERENCE_MODE": "record"})
    with pytest.raises(ValueError, match="is not a mode"):
        recorder_settings({"STACKADMIN_TEST_INFERENCE_MODE": "sometimes"})


async def test_the_class_servers_are_given_takes_its_mode_from_the_environment(fake, tmp_path, monkeypatch):
    provider = InferenceProvider("fake", "remote::openai", fake.url, "k", max_retries=0)
    monkeypatch.setenv(MODE_ENV, "live")
    live = EnvRecordingUpstream(provider)
    _opened.append(live)
    assert (await live.chat(body("direct")))["choices"][0]["message"]["content"] == "Hello! You said: direct"
    assert list(tmp_path.glob("*.json")) == []
    monkeypatch.setenv(MODE_ENV, "record")
    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    recorder = EnvRecordingUpstream(provider)
    _opened.append(recorder)
    assert (await recorder.chat(body("kept")))["choices"][0]["message"]["content"] == "Hello! You said: kept"
    assert len(list(tmp_path.glob("chat-completions-*.json"))) == 1
