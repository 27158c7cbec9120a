"""The run config's `prompts` section: which labels are protected.

```yaml
prompts:
  protected_labels: [production]   # moving these needs the access policy's `promote` action
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.config import ConfigError, check_fields
from apps.prompts.keys import LABEL_RE


@dataclass(frozen=True)
class PromptsConfig:
    protected_labels: tuple[str, ...] = ()


def prompts_config() -> PromptsConfig:
    """The prompts section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.prompts


def parse_prompts(raw: Any) -> PromptsConfig:
    """`prompts: {protected_labels: [names]}`; `default` may be protected too (then set-default needs `promote`)."""
    raw = raw or {}
    check_fields(raw, "prompts", ("protected_labels",))
    labels = raw.get("protected_labels") or []
    if not isinstance(labels, list):
        raise ConfigError("prompts.protected_labels: must be a list of label names")
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not LABEL_RE.match(label) or label == "latest":
            raise ConfigError(
                f"prompts.protected_labels[{index}]: {label!r} is not a label that can be moved (names match "
                f"{LABEL_RE.pattern}; 'latest' is computed)"
            )
    return PromptsConfig(protected_labels=tuple(dict.fromkeys(labels)))
