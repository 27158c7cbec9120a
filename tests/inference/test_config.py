"""`providers.inference` and registered models in the run config: llama-stack's shape, one clear line per mistake."""

from __future__ import annotations

import pytest

from apps.core.config import ConfigError
from apps.inference.config import InferenceProvider
from apps.inference.registry import configured_providers
from stackadmin.config import parse_config


def parse(data: dict):
    return parse_config(data, source="run.yaml", home="/tmp/stackadmin-test-home")


def provider(provider_id="openai", **config) -> dict:
    return {"provider_id": provider_id, "provider_type": "remote::openai", "config": config}


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(data)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_llama_stack_provider_list_with_disabled_entries():
    config = parse(
        {
            "providers": {
                "inference": [
                    provider("vllm", base_url="http://127.0.0.1:8000/v1/", api_key="k", timeout=5, max_retries=1),
                    {"provider_id": "__disabled__", "provider_type": "remote::ollama", "config": {"url": "x"}},
                    {"provider_id": None, "provider_type": "remote::anything"},
                ],
                "safety": [{"provider_id": "x", "provider_type": "inline::llama-guard"}],
            }
        }
    )
    assert config.inference.providers == (
        InferenceProvider("vllm", "remote::openai", "http://127.0.0.1:8000/v1", "k", 5.0, 1, None),
    )
    assert config.warnings == ()


def test_defaults_follow_llama_stack():
    (only,) = parse(
        {"providers": {"inference": [{"provider_id": "openai", "provider_type": "remote::openai"}]}}
    ).inference.providers
    assert only.base_url == "https://api.openai.com/v1"
    assert only.api_key is None
    assert only.max_retries == 2


def test_registered_models_in_both_places():
    providers = {"inference": [provider("a", base_url="http://a/v1"), provider("b", base_url="http://b/v1")]}
    config = parse(
        {
            "providers": providers,
            "registered_resources": {
                "models": [
                    {"model_id": "small", "provider_id": "a"},
                    {"model_id": "big", "provider_id": "b", "provider_model_id": "org/big-v2", "metadata": {"x": 1}},
                    {"model_id": "gone", "provider_id": "__disabled__"},
                ]
            },
        }
    )
    assert [(m.model_id, m.provider_id, m.provider_model_id) for m in config.inference.models] == [
        ("small", "a", "small"),
        ("big", "b", "org/big-v2"),
    ]
    legacy = parse({"providers": {"inference": [provider()]}, "models": [{"model_id": "gpt-4o-mini"}]})
    assert legacy.inference.models[0].provider_id == "openai"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"providers": {"inference": {"openai": {}}}}, "providers.inference: must be a list"),
        (
            {"providers": {"inference": [{"provider_type": "remote::openai"}]}},
            "providers.inference[0].provider_id: required field is missing",
        ),
        (
            {"providers": {"inference": [{"provider_id": "v", "provider_type": "remote::vllm"}]}},
            "providers.inference[0].provider_type: 'remote::vllm' is not supported; stackadmin reaches any "
            "OpenAI-compatible server",
        ),
        ({"providers": {"inference": [provider(url="http://x")]}}, "providers.inference[0].config.url: unknown field"),
        (
            {"providers": {"inference": [provider(base_url="ftp://x")]}},
            "providers.inference[0].config.base_url: must be an http(s) URL",
        ),
        (
            {"providers": {"inference": [provider(timeout=0)]}},
            "providers.inference[0].config.timeout: Input should be greater than 0",
        ),
        (
            {"providers": {"inference": [provider(), provider()]}},
            "providers.inference[1].provider_id: 'openai' is declared twice",
        ),
        (
            {
                "providers": {"inference": [provider()]},
                "registered_resources": {"models": [{"model_id": "m", "provider_id": "nope"}]},
            },
            "registered_resources.models[0].provider_id: 'nope' is not an enabled providers.inference entry; "
            "enabled: openai",
        ),
        (
            {"registered_resources": {"models": [{"model_id": "m"}]}},
            "registered_resources.models[0].provider_id: required when no inference provider is enabled",
        ),
        (
            {
                "providers": {"inference": [provider(), provider("b")]},
                "registered_resources": {"models": [{"model_id": "m"}]},
            },
            "registered_resources.models[0].provider_id: required when more than one inference provider is enabled",
        ),
        (
            {
                "providers": {"inference": [provider()]},
                "registered_resources": {"models": [{"model_id": "m"}, {"model_id": "m"}]},
            },
            "registered_resources.models[1].model_id: 'm' is registered twice",
        ),
        (
            {
                "providers": {"inference": [provider()]},
                "registered_resources": {"models": [{"model_id": "m", "model_type": "vision"}]},
            },
            "registered_resources.models[0].model_type: Input should be 'llm' or 'embedding'",
        ),
        ({"registered_resources": {"models": {"m": {}}}}, "registered_resources.models: must be a list of models"),
    ],
)
def test_mistakes_name_their_path(data, expected):
    assert error_of(data).startswith(expected)


def test_environment_enables_a_provider_only_without_a_providers_section():
    bare = parse({})
    assert configured_providers(bare.inference, environ={}) == ()
    (from_env,) = configured_providers(bare.inference, environ={"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/"})
    assert (from_env.provider_id, from_env.base_url, from_env.api_key) == ("openai", "http://127.0.0.1:11434/v1", None)
    (key_only,) = configured_providers(bare.inference, environ={"OPENAI_API_KEY": "sk-test"})
    assert (key_only.base_url, key_only.api_key) == ("https://api.openai.com/v1", "sk-test")
    explicit = parse({"providers": {"inference": []}})
    assert configured_providers(explicit.inference, environ={"OPENAI_API_KEY": "sk-test"}) == ()
