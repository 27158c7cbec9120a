"""The run config's `usage` section: prices per model, which turn token counts into cost in the usage views.

```yaml
usage:
  prices:                       # per million tokens, in whatever currency you bill in
    gpt-4o: {input: 2.5, output: 10}
  replay_max: 200               # the most stored responses one replay against a candidate may re-run
  replay_concurrency: 4         # how many of a replay's requests are in flight at once
```

A model is named as requests name it (the `model` a response is stored with). A version used with a model that
has no price shows no cost rather than a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.core.config import ConfigError, check_fields


@dataclass(frozen=True)
class Price:
    input: float  # per million input tokens
    output: float  # per million output tokens


REPLAY_MAX = 200
REPLAY_CONCURRENCY = 4


@dataclass(frozen=True)
class UsageConfig:
    prices: dict[str, Price] = field(default_factory=dict)
    # Replays against a candidate (apps.responses.replay): each one re-runs stored requests through the model, so
    # its size is bounded; and its calls share the model servers with live traffic, so few run at once.
    replay_max: int = REPLAY_MAX
    replay_concurrency: int = REPLAY_CONCURRENCY


def usage_config() -> UsageConfig:
    """The usage section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.usage


def _amount(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{path}: must be a number >= 0 (price per million tokens)")
    return float(value)


def _count(raw: dict, name: str, default: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"usage.{name}: must be an integer >= 1")
    return value


KNOWN = ("prices", "replay_max", "replay_concurrency")


def parse_usage(raw: Any) -> UsageConfig:
    raw = raw or {}
    check_fields(raw, "usage", KNOWN)
    prices = raw.get("prices") or {}
    if not isinstance(prices, dict):
        raise ConfigError("usage.prices: must be a mapping of model id to {input, output}")
    parsed = {}
    for model, price in prices.items():
        path = f"usage.prices.{model}"
        if not isinstance(price, dict) or set(price) - {"input", "output"} or not price:
            raise ConfigError(f"{path}: must be {{input: <number>, output: <number>}}")
        parsed[str(model)] = Price(
            input=_amount(price.get("input", 0), f"{path}.input"),
            output=_amount(price.get("output", 0), f"{path}.output"),
        )
    return UsageConfig(
        prices=parsed,
        replay_max=_count(raw, "replay_max", REPLAY_MAX),
        replay_concurrency=_count(raw, "replay_concurrency", REPLAY_CONCURRENCY),
    )
