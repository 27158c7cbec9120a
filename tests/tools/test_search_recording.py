"""The recorder in front of the search client: record against the fake provider, stop it, replay the same results;
an unrecorded search in replay names the file; the class setting puts the recorder in front of every search."""

from __future__ import annotations

import json

import pytest

from apps.tools.web_search import HTTPWebSearch, WebSearchError, parse_web_search, web_search, web_search_client
from tests.support.fake_search import KEY, FakeSearch
from tests.support.live_server import free_port
from tests.support.recording import DIR_ENV, MODE_ENV, RecordingNotFoundError
from tests.support.search_recording import (
    SEARCH_CLASS,
    EnvRecordingWebSearch,
    RecordingWebSearch,
    search_recording_path,
)


def config(url: str, provider: str = "tavily", **extra):
    return parse_web_search({"provider": provider, "api_key": KEY, "base_url": url, **extra})


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("provider", ["tavily", "brave"])
async def test_record_then_replay_with_the_provider_gone(tmp_path, provider):
    fake = FakeSearch(free_port()).start()
    try:
        recorder = RecordingWebSearch(HTTPWebSearch(config(fake.url, provider)), mode="record", directory=tmp_path)
        live = await recorder.search("rust borrow checker")
    finally:
        fake.stop()
    (path,) = tmp_path.glob("*.json")
    assert path.name.startswith(f"web-search-{provider}-")
    saved = json.loads(path.read_text())
    assert saved["request"] == {
        "method": "POST",
        "endpoint": f"/web-search/{provider}",
        "body": {"query": "rust borrow checker", "max_results": 5},
    }
    assert KEY not in path.read_text()

    # Another port, another key: neither is part of the recording's name.
    other = parse_web_search({"provider": provider, "api_key": "other-key", "base_url": dead_url()})
    replayed = await RecordingWebSearch(HTTPWebSearch(other), mode="replay", directory=tmp_path).search(
        "rust borrow checker"
    )
    assert replayed == live
    assert len(live.results) == 5


async def test_errors_are_recorded_and_replayed(tmp_path):
    fake = FakeSearch(free_port()).start()
    try:
        recorder = RecordingWebSearch(HTTPWebSearch(config(fake.url)), mode="record", directory=tmp_path)
        with pytest.raises(WebSearchError) as live:
            await recorder.search("boom #fail500")
    finally:
        fake.stop()
    replayer = RecordingWebSearch(HTTPWebSearch(config(dead_url())), mode="replay", directory=tmp_path)
    with pytest.raises(WebSearchError) as replayed:
        await replayer.search("boom #fail500")
    assert (replayed.value.code, replayed.value.message) == (live.value.code, live.value.message)


async def test_replay_of_an_unrecorded_search_names_the_file(tmp_path):
    cfg = config(dead_url())
    replayer = RecordingWebSearch(HTTPWebSearch(cfg), mode="replay", directory=tmp_path)
    with pytest.raises(RecordingNotFoundError) as caught:
        await replayer.search("never recorded")
    assert str(search_recording_path(tmp_path, cfg, "never recorded")) in caught.value.message
    assert "record-if-missing" in caught.value.message


async def test_record_if_missing_replays_what_exists_and_records_the_rest(tmp_path):
    fake = FakeSearch(free_port()).start()
    try:
        cfg = config(fake.url)
        first = await RecordingWebSearch(HTTPWebSearch(cfg), mode="record", directory=tmp_path).search("one")
        again = RecordingWebSearch(HTTPWebSearch(cfg), mode="record-if-missing", directory=tmp_path)
        asked = len(fake.requests)
        assert await again.search("one") == first
        assert len(fake.requests) == asked  # answered from the file
        await again.search("two")
        assert len(fake.requests) == asked + 1
    finally:
        fake.stop()
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="not a recording mode"):
        RecordingWebSearch(HTTPWebSearch(config(dead_url())), mode="sometimes", directory=None)


async def test_the_class_setting_puts_the_recorder_in_front_of_web_search(settings, monkeypatch, tmp_path):
    cfg = config(dead_url())
    monkeypatch.setenv(MODE_ENV, "replay")
    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    settings.STACKADMIN_WEB_SEARCH_CLASS = SEARCH_CLASS
    assert isinstance(web_search_client(cfg), EnvRecordingWebSearch)
    with pytest.raises(RecordingNotFoundError):
        await web_search(query="through the setting", config=cfg)
    settings.STACKADMIN_WEB_SEARCH_CLASS = "apps.tools.web_search.HTTPWebSearch"
    assert isinstance(web_search_client(cfg), HTTPWebSearch)  # the registry was rebuilt


async def test_live_mode_has_no_recorder(monkeypatch):
    monkeypatch.setenv(MODE_ENV, "live")
    assert isinstance(EnvRecordingWebSearch(config(dead_url())).client, HTTPWebSearch)
