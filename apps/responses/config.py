"""The run config's `usage` section: prices per model, which turn token counts into cost in the usage views.

```yaml
usage:
  prices:                       # per million tokens, in whatever currency you bill in
    gpt-4o: {input: 2.5, output: 10}
```

A model is named as requests name it (the `model` a response is stored with). A version used with a model that
has no price shows no cost rather than a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.core.config import ConfigError


@dataclass(frozen=True)
class Price:
    input: float  # per million input tokens
    output: float  # per million output tokens


@dataclass(frozen=True)
class UsageConfig:
    prices: dict[str, Price] = field(default_factory=dict)


def usage_config() -> UsageConfig:
    """The usage section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.usage


def _amount(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{path}: must be a number >= 0 (price per million tokens)")
    return float(value)


def parse_usage(raw: Any) -> UsageConfig:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("usage: must be a mapping (prices)")
    unknown = set(raw) - {"prices"}
    if unknown:
        raise ConfigError(f"usage.{sorted(unknown)[0]}: unknown field (known: prices)")
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
    return UsageConfig(prices=parsed)
