"""What every section parser of the run config shares: the error it raises and how a pydantic error reads.

The run config is read by `stackadmin/config.py`, which hands each section to the app that owns it (`storage` to
`apps.storage.config`, `files` to `apps.files.config`, ...). A mistake anywhere is one `ConfigError` whose message
is one line naming the path of the offending value, so `stackadmin run` can print it and `manage.py check` can
report it unchanged.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Any

from pydantic import ValidationError


class ConfigError(Exception):
    """A run config that cannot be used. The message is one line naming the path of the problem."""


def validation_message(prefix: str, exc: ValidationError, *, hidden: Container = ()) -> str:
    """One line for the first error pydantic found under `prefix`; `hidden` location parts (a discriminated
    union's tags) are left out of the path."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p not in hidden)
    where = f"{prefix}.{loc}" if loc else prefix
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"


def check_fields(raw: Any, path: str, known: Sequence[str]) -> None:
    """A section must be a mapping of the fields it knows; the first unknown one (sorted) is named, so that a typo
    is pointed at instead of silently ignored."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping ({', '.join(known)})")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}: unknown field (known: {', '.join(known)})")
