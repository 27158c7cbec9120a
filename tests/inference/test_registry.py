"""The registry builds each provider's client from the class `STACKADMIN_UPSTREAM_CLASS` names, and is rebuilt when
that setting or the run config changes."""

from __future__ import annotations

import pytest

from apps.inference.registry import close_registry, registry
from apps.inference.upstream import OpenAIUpstream
from stackadmin.config import parse_config
from tests.support.recording import DIR_ENV, MODE_ENV, UPSTREAM_CLASS, EnvRecordingUpstream, RecordingNotFoundError


@pytest.fixture
def one_provider(settings, tmp_path):
    """A run config with one provider, on a port nobody listens on."""
    provider = {
        "provider_id": "fake",
        "provider_type": "remote::openai",
        "config": {"base_url": "http://127.0.0.1:9/v1"},
    }
    settings.STACKADMIN_RUN_CONFIG = parse_config(
        {"providers": {"inference": [provider]}}, source="tests", home=str(tmp_path)
    )


async def test_the_upstream_class_comes_from_the_setting(one_provider, settings, monkeypatch, tmp_path):
    monkeypatch.setenv(MODE_ENV, "replay")
    monkeypatch.setenv(DIR_ENV, str(tmp_path))
    default = registry()
    try:
        assert type(default.upstreams["fake"]) is OpenAIUpstream
        assert registry() is default
        settings.STACKADMIN_UPSTREAM_CLASS = UPSTREAM_CLASS
        recorded = registry()
        assert recorded is not default
    finally:
        await default.aclose()
    try:
        assert isinstance(recorded.upstreams["fake"], EnvRecordingUpstream)
        with pytest.raises(RecordingNotFoundError):
            await recorded.upstreams["fake"].chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    finally:
        await close_registry()
