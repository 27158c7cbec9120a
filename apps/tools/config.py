"""The run config's `tools` section: what server-side tools a response may use, and how far it may go with them.

```yaml
tools:
  max_rounds: 10                # model calls that may follow tool results within one response
  mcp:                          # remote MCP servers (`{"type": "mcp", ...}` tools)
    allowed_hosts: [mcp.example.com, "127.0.0.1:8931"]   # empty (the default): MCP is off
    connect_timeout: 10         # seconds to reach a server (each HTTP request)
    list_timeout: 30            # seconds for a whole tools/list (connect, initialize, list)
    call_timeout: 60            # seconds for a whole tools/call
  web_search:                   # the search provider of `{"type": "web_search"}` tools (absent: web search is off)
    provider: tavily            # or brave
    api_key: ${env.TAVILY_API_KEY}
```

`allowed_hosts` is how an operator says which addresses a caller may make this server reach: a request naming
any other host in an MCP tool's `server_url` is a 400 before anything is stored or called. An entry is a host
name or IP (any port), or `host:port` (that port only); names are compared case-insensitively.

Each server-side tool has its own key here, parsed by its own function and held in its own field of
`ToolsConfig`: `web_search` by `apps.tools.web_search.parse_web_search` (its module says what the section holds).
A request with a web search tool on a server whose run config has no `tools.web_search` is a 400 saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.core.config import ConfigError, check_fields
from apps.tools.web_search import WebSearchConfig, parse_web_search

DEFAULT_MAX_ROUNDS = 10


@dataclass(frozen=True)
class McpConfig:
    allowed_hosts: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    list_timeout: float = 30.0
    call_timeout: float = 60.0

    def allows(self, host: str, port: int | None) -> bool:
        """Whether `host` (as a URL gives it) on `port` (None: the scheme's default) is one the operator allowed."""
        host = host.lower().strip("[]")
        for entry in self.allowed_hosts:
            name, _, only_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
            if name.strip("[]") == host and (not only_port or (port is not None and int(only_port) == port)):
                return True
        return False


def _has_port(entry: str) -> bool:
    """`host:port` or `[v6]:port`, as opposed to a bare IPv6 address."""
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


@dataclass(frozen=True)
class ToolsConfig:
    max_rounds: int = DEFAULT_MAX_ROUNDS
    mcp: McpConfig = field(default_factory=McpConfig)
    web_search: WebSearchConfig | None = None  # None: no search provider configured, web search tools are a 400


def tools_config() -> ToolsConfig:
    """The tools section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.tools


_KNOWN = ("max_rounds", "mcp", "web_search")
_MCP_KNOWN = ("allowed_hosts", "connect_timeout", "list_timeout", "call_timeout")


def _seconds(raw: dict, name: str, default: float, path: str) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{path}.{name}: must be a number of seconds > 0 (got {value!r})")
    return float(value)


def _hosts(raw: Any, path: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: must be a list of host names or host:port (got {raw!r})")
    hosts = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, str) or not entry.strip() or "/" in entry or "@" in entry:
            raise ConfigError(f"{path}[{index}]: must be a host name or IP, optionally with :port (got {entry!r})")
        entry = entry.strip().lower()
        if _has_port(entry) and not entry.rpartition(":")[2].isdigit():
            raise ConfigError(f"{path}[{index}]: the port of {entry!r} is not a number")
        hosts.append(entry)
    return tuple(hosts)


def parse_mcp(raw: Any) -> McpConfig:
    path = "tools.mcp"
    if raw is None:
        return McpConfig()
    check_fields(raw, path, _MCP_KNOWN)
    defaults = McpConfig()
    return McpConfig(
        allowed_hosts=_hosts(raw.get("allowed_hosts"), f"{path}.allowed_hosts"),
        connect_timeout=_seconds(raw, "connect_timeout", defaults.connect_timeout, path),
        list_timeout=_seconds(raw, "list_timeout", defaults.list_timeout, path),
        call_timeout=_seconds(raw, "call_timeout", defaults.call_timeout, path),
    )


def parse_tools(raw: Any) -> ToolsConfig:
    if raw is None:
        return ToolsConfig()
    check_fields(raw, "tools", _KNOWN)
    rounds = raw.get("max_rounds", DEFAULT_MAX_ROUNDS)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 100:
        raise ConfigError(f"tools.max_rounds: must be a whole number from 1 to 100 (got {rounds!r})")
    return ToolsConfig(
        max_rounds=rounds, mcp=parse_mcp(raw.get("mcp")), web_search=parse_web_search(raw.get("web_search"))
    )
