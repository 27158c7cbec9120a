"""The run config's inference part: llama-stack's `providers.inference` and the registered models.

`stackadmin/config.py` hands the raw sections to `parse_inference`; the registry (apps.inference.registry) reads
the result through `inference_config()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.core.config import ConfigError, validation_message

DISABLED_PROVIDER = "__disabled__"
REDACTED = "********"  # what llama-stack shows for a secret in a provider's config
INFERENCE_PROVIDER_TYPES = ("remote::openai",)


class _InferenceProviderSettings(BaseModel):
    """`config:` of a `remote::openai` provider: any OpenAI-compatible server (OpenAI, vLLM, Ollama, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str = "https://api.openai.com/v1"
    api_key: str | None = None
    timeout: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    allowed_models: list[str] | None = None
    refresh_models: bool = False  # llama-stack's flag; stackadmin always refreshes an unknown model once


class _InferenceProviderEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    provider_id: str
    provider_type: str
    config: _InferenceProviderSettings = _InferenceProviderSettings()


class _RegisteredModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model_id: Annotated[str, Field(min_length=1)]
    provider_id: str | None = None
    provider_model_id: str | None = None
    model_type: Literal["llm", "embedding"] = "llm"
    metadata: dict = Field(default_factory=dict)


@dataclass(frozen=True)
class InferenceProvider:
    provider_id: str
    provider_type: str
    base_url: str
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    allowed_models: tuple[str, ...] | None = None

    def as_api(self, health: dict) -> dict:
        """llama-stack's `ProviderInfo`: the config with its secrets redacted (the key, and a password or query
        string in the URL, which may carry one)."""
        return {
            "api": "inference",
            "provider_id": self.provider_id,
            "provider_type": self.provider_type,
            "config": {
                "base_url": redacted_url(self.base_url),
                "api_key": REDACTED if self.api_key else None,
                "timeout": self.timeout,
                "max_retries": self.max_retries,
                "allowed_models": list(self.allowed_models) if self.allowed_models is not None else None,
            },
            "health": health,
        }


def redacted_url(url: str) -> str:
    """`url` without what may be a secret: the password of its user info and the values of its query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{REDACTED}@{netloc.rpartition('@')[2]}"
    query = urlencode([(name, REDACTED) for name, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class Model:
    """A model this process can call: registered in the run config, or listed by a provider's `/models` (which
    reports `created`; a registered model has no date, and its `metadata` is not part of what makes it the same)."""

    model_id: str
    provider_id: str
    provider_model_id: str
    model_type: str = "llm"
    created: int = 0
    metadata: dict = field(default_factory=dict, compare=False)

    @property
    def context_window(self) -> int | None:
        """The model's context window in tokens, from its registered `metadata.context_length` (llama-stack's
        name), if any."""
        length = self.metadata.get("context_length")
        return length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None

    def as_api(self) -> dict:
        """OpenAI's model object, with llama-stack's metadata in `custom_metadata` (where llama-stack puts it and its
        client's `Model` reads `model_type`, `provider_id` and `provider_resource_id`; the rest is `metadata`)."""
        return {
            "id": self.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": self.provider_id,
            "custom_metadata": {
                **self.metadata,
                "model_type": self.model_type,
                "provider_id": self.provider_id,
                "provider_resource_id": self.provider_model_id,
            },
        }

    def as_api_detail(self) -> dict:
        """One model as `GET /v1/models/{id}` returns it: OpenAI's object and, beside it, llama-stack's `Model`
        resource (`identifier`, `provider_id`, ...), which llama-stack-client's `models.retrieve` reads."""
        return {
            **self.as_api(),
            "identifier": self.model_id,
            "provider_id": self.provider_id,
            "provider_resource_id": self.provider_model_id,
            "model_type": self.model_type,
            "metadata": dict(self.metadata),
            "type": "model",
        }


def _is_disabled(provider_id: Any) -> bool:
    return provider_id is None or provider_id in ("", DISABLED_PROVIDER)


def _parse_inference_providers(raw: Any) -> tuple[InferenceProvider, ...] | None:
    """llama-stack's `providers.inference` list; entries whose provider_id resolves to __disabled__ (or empty) drop.

    Returns the enabled providers, or None when the section is absent.
    """
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ConfigError("providers.inference: must be a list of providers ({provider_id, provider_type, config})")
    enabled: list[InferenceProvider] = []
    for index, entry in enumerate(raw):
        path = f"providers.inference[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: must be a mapping with provider_id, provider_type and config")
        if _is_disabled(entry.get("provider_id")) and "provider_id" in entry:
            continue
        try:
            parsed = _InferenceProviderEntry.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(validation_message(path, exc)) from None
        if parsed.provider_type not in INFERENCE_PROVIDER_TYPES:
            raise ConfigError(
                f"{path}.provider_type: {parsed.provider_type!r} is not supported; stackadmin reaches any "
                "OpenAI-compatible server (OpenAI, vLLM, Ollama, ...) through 'remote::openai' with config.base_url"
            )
        if any(p.provider_id == parsed.provider_id for p in enabled):
            raise ConfigError(f"{path}.provider_id: {parsed.provider_id!r} is declared twice")
        cfg = parsed.config
        if not re.match(r"^https?://[^/\s]+", cfg.base_url):
            raise ConfigError(f"{path}.config.base_url: must be an http(s) URL (got {cfg.base_url!r})")
        enabled.append(
            InferenceProvider(
                provider_id=parsed.provider_id,
                provider_type=parsed.provider_type,
                base_url=cfg.base_url.rstrip("/"),
                api_key=cfg.api_key,
                timeout=cfg.timeout,
                max_retries=cfg.max_retries,
                allowed_models=tuple(cfg.allowed_models) if cfg.allowed_models is not None else None,
            )
        )
    return tuple(enabled)


def _model_provider(provider_id: str | None, where: str, enabled: dict[str, InferenceProvider]) -> str:
    """The enabled provider a model names, or the only one enabled when it names none."""
    if provider_id is None:
        if len(enabled) != 1:
            raise ConfigError(
                f"{where}.provider_id: required when {'no' if not enabled else 'more than one'} inference "
                f"provider is enabled (enabled: {', '.join(sorted(enabled)) or 'none'})"
            )
        return next(iter(enabled))
    if provider_id not in enabled:
        raise ConfigError(
            f"{where}.provider_id: '{provider_id}' is not an enabled providers.inference entry; "
            f"enabled: {', '.join(sorted(enabled)) or 'none'}"
        )
    return provider_id


def _parse_models(raw: Any, path: str, providers: tuple[InferenceProvider, ...] | None) -> tuple[Model, ...]:
    """Registered models (`registered_resources.models`, or llama-stack's older top-level `models`).

    A model of a disabled provider is dropped with it, as llama-stack does; one naming an undeclared provider is an
    error. `provider_id` may be left out when exactly one provider is enabled.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: must be a list of models ({{model_id, provider_id, provider_model_id}})")
    enabled = {p.provider_id: p for p in providers or ()}
    models: dict[str, Model] = {}
    for index, entry in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a mapping with model_id and provider_id")
        if "provider_id" in entry and _is_disabled(entry["provider_id"]):
            continue
        try:
            parsed = _RegisteredModelEntry.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(validation_message(where, exc)) from None
        provider_id = _model_provider(parsed.provider_id, where, enabled)
        if parsed.model_id in models:
            raise ConfigError(f"{where}.model_id: '{parsed.model_id}' is registered twice")
        models[parsed.model_id] = Model(
            model_id=parsed.model_id,
            provider_id=provider_id,
            provider_model_id=parsed.provider_model_id or parsed.model_id,
            model_type=parsed.model_type,
            metadata=dict(parsed.metadata),
        )
    return tuple(models.values())


@dataclass(frozen=True)
class InferenceConfig:
    # None when the config has no `providers.inference` section (then OPENAI_BASE_URL / OPENAI_API_KEY may enable one).
    providers: tuple[InferenceProvider, ...] | None = None
    models: tuple[Model, ...] = ()


def inference_config() -> InferenceConfig:
    """The inference section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.inference


def parse_inference(*, providers: Any, registered_resources: Any, legacy_models: Any) -> InferenceConfig:
    """The top-level `providers` (of which stackadmin reads `inference`), `registered_resources` (of which it reads
    `models`) and llama-stack's older top-level `models`; a config gives its models in one of the two places."""
    providers = providers or {}
    if not isinstance(providers, dict):
        raise ConfigError("providers: must be a mapping of API name to a list of providers")
    enabled = _parse_inference_providers(providers.get("inference"))
    resources = registered_resources or {}
    if not isinstance(resources, dict):
        raise ConfigError("registered_resources: must be a mapping (models, ...)")
    models = _parse_models(resources.get("models"), "registered_resources.models", enabled)
    if legacy_models is not None:
        if models:
            raise ConfigError("models: give registered models in one place, registered_resources.models")
        models = _parse_models(legacy_models, "models", enabled)
    return InferenceConfig(providers=enabled, models=models)
