"""The run config's `server.auth` section: whether `/v1` needs an API key, and the access policy.

Authentication is this app's business (users, API keys, the middleware that refuses a request without a key), so
its switch is parsed here; the policy *language* lives in `apps.core.policy` because every app evaluates it.
`stackadmin/settings.py` turns the result into `STACKADMIN_AUTH_ENABLED` and `STACKADMIN_ACCESS_POLICY`, which is
what the rest of the code (and a test, through the `settings` fixture) reads and changes.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from apps.core.config import ConfigError
from apps.core.policy import PolicyError, Rule, parse_policy


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool | None = None  # None: on exactly when the server binds beyond loopback
    access_policy: tuple[Rule, ...] = ()

    def enabled_for(self, bind_host: str | None) -> bool:
        """Whether `/v1` needs a key on a server bound to `bind_host` (None: not serving, e.g. a management
        command)."""
        if self.enabled is not None:
            return self.enabled
        return bool(bind_host) and not is_loopback_host(bind_host)


def parse_auth(raw: Any) -> AuthConfig:
    """`server.auth: {enabled: bool, access_policy: [rules]}`; a rule that does not parse names its index and text."""
    if raw is None:
        return AuthConfig()
    if not isinstance(raw, dict):
        raise ConfigError("server.auth: must be a mapping with 'enabled' and optional 'access_policy'")
    unknown = set(raw) - {"enabled", "access_policy"}
    if unknown:
        raise ConfigError(f"server.auth.{sorted(unknown)[0]}: unknown field (known: enabled, access_policy)")
    if "enabled" in raw and not isinstance(raw["enabled"], bool):
        raise ConfigError(f"server.auth.enabled: must be true or false (got {raw['enabled']!r})")
    try:
        policy = parse_policy(raw.get("access_policy"))
    except PolicyError as exc:
        raise ConfigError(str(exc)) from None
    return AuthConfig(enabled=raw.get("enabled"), access_policy=policy)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False
