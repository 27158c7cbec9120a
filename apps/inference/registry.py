"""Which inference providers and models this process serves.

Providers come from the run config's `providers.inference`. When the config has no such section, one provider
(`openai`) is enabled from `OPENAI_BASE_URL` / `OPENAI_API_KEY` if either is set. Models are the config's registered
models; a provider with none registered serves whatever its server lists at `/models` (optionally narrowed by
`config.allowed_models`), fetched on first use and refreshed every minute, or at once (at most every few seconds)
when a request names a model not seen yet, so a model just pulled into Ollama or vLLM is found.

One registry per process and event loop: the SDK's async HTTP connections belong to the loop that opened them.
The client class comes from `STACKADMIN_UPSTREAM_CLASS` (the `openai` SDK's by default; tests name one that records
and replays). When that setting or the run config changes, the registries are forgotten and rebuilt on next use.
"""

from __future__ import annotations

import asyncio
import os
import time

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.errors import NotFoundError, ServiceUnavailableError
from apps.core.handlers import RunConfigHandler
from apps.inference.config import InferenceConfig, InferenceProvider, Model, inference_config
from apps.inference.upstream import Upstream

MODELS_TTL = 60.0
UNKNOWN_MODEL_REFRESH = 5.0

NO_PROVIDER_MESSAGE = (
    "No inference provider is configured, so there is no model to call. Add one to the run config:\n"
    "  providers:\n"
    "    inference:\n"
    "    - provider_id: openai\n"
    "      provider_type: remote::openai   # any OpenAI-compatible server: OpenAI, vLLM, Ollama, ...\n"
    "      config: {base_url: https://api.openai.com/v1, api_key: ${env.OPENAI_API_KEY}}\n"
    "or, without a run config, set OPENAI_BASE_URL and/or OPENAI_API_KEY before starting stackadmin."
)


def configured_providers(config: InferenceConfig, environ=None) -> tuple[InferenceProvider, ...]:
    if config.providers is not None:
        return config.providers
    environ = os.environ if environ is None else environ
    base_url, api_key = environ.get("OPENAI_BASE_URL"), environ.get("OPENAI_API_KEY")
    if not base_url and not api_key:
        return ()
    return (
        InferenceProvider(
            provider_id="openai",
            provider_type="remote::openai",
            base_url=(base_url or "https://api.openai.com/v1").rstrip("/"),
            api_key=api_key or None,
        ),
    )


class Registry:
    def __init__(self, config: InferenceConfig) -> None:
        self.providers = {p.provider_id: p for p in configured_providers(config)}
        self.registered = {m.model_id: m for m in config.models}
        with_registered = {m.provider_id for m in config.models}
        # Providers whose models are discovered from their server's /models.
        self.discovering = [pid for pid in self.providers if pid not in with_registered]
        upstream_class = import_string(settings.STACKADMIN_UPSTREAM_CLASS)
        self.upstreams: dict[str, Upstream] = {pid: upstream_class(p) for pid, p in self.providers.items()}
        self._discovered: dict[str, Model] = {}
        self._listed: list[Model] = []
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await asyncio.gather(*(upstream.aclose() for upstream in self.upstreams.values()))

    def require_provider(self) -> None:
        if not self.providers:
            raise ServiceUnavailableError(NO_PROVIDER_MESSAGE, code="no_inference_provider")

    async def _discover(self, *, max_age: float) -> None:
        if not self.discovering or time.monotonic() - self._fetched_at < max_age:
            return
        async with self._lock:
            if time.monotonic() - self._fetched_at < max_age:
                return
            listings = await asyncio.gather(*(self.upstreams[pid].list_models() for pid in self.discovering))
            lookup: dict[str, Model] = {}
            listed: list[Model] = []
            for pid, listing in zip(self.discovering, listings, strict=True):
                allowed = self.providers[pid].allowed_models
                for entry in listing:
                    name = entry["id"]
                    if allowed is not None and name not in allowed:
                        continue
                    created = entry.get("created") if isinstance(entry.get("created"), int) else 0
                    # On a name clash the first provider (or a registered model) keeps the plain id.
                    public = name if name not in self.registered and name not in lookup else f"{pid}/{name}"
                    model = Model(public, pid, name, "llm", created)
                    lookup[public] = lookup[f"{pid}/{name}"] = model
                    listed.append(model)
            self._discovered, self._listed = lookup, listed
            self._fetched_at = time.monotonic()

    async def models(self) -> list[Model]:
        await self._discover(max_age=MODELS_TTL)
        return [*self.registered.values(), *self._listed]

    async def model(self, model_id: str) -> Model:
        """The model named `model_id`, whatever its type; 404 `model_not_found` if none."""
        model = self.registered.get(model_id)
        if model is None:
            await self._discover(max_age=MODELS_TTL)
            model = self._discovered.get(model_id)
            if model is None:
                await self._discover(max_age=UNKNOWN_MODEL_REFRESH)
                model = self._discovered.get(model_id)
        if model is None:
            raise NotFoundError(
                f"Model '{model_id}' not found. Use 'client.models.list()' to list available Models.",
                param="model",
                code="model_not_found",
            )
        return model

    async def resolve(self, model_id: str) -> tuple[Model, Upstream]:
        """The model to generate text with, and its provider's client."""
        self.require_provider()
        model = await self.model(model_id)
        if model.model_type != "llm":
            raise NotFoundError(
                f"Model '{model_id}' is an {model.model_type} model; it cannot generate text.",
                param="model",
                code="model_not_found",
            )
        return model, self.upstreams[model.provider_id]


class _Registries(RunConfigHandler[int, Registry]):
    """A registry per event loop (by its id; 0 outside one). A registry the handler forgets is not closed here:
    its connections belong to its own loop, which closes them (`close_registry`) or ends with them."""

    setting_names = frozenset({"STACKADMIN_RUN_CONFIG", "STACKADMIN_UPSTREAM_CLASS"})

    def create(self, key: int) -> Registry:
        return Registry(inference_config())


_registries = _Registries()


def _loop_id() -> int:
    try:
        return id(asyncio.get_running_loop())
    except RuntimeError:
        return 0


def registry() -> Registry:
    """This process's registry for the running event loop (built on first use, never at import)."""
    return _registries[_loop_id()]


async def close_registry() -> None:
    """Close the running loop's registry (its HTTP connections); the next `registry()` call builds a new one."""
    found = _registries.pop(_loop_id())
    if found is not None:
        await found.aclose()
