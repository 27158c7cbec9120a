"""Reads of the tools configuration for other apps: the tool runtimes `GET /v1/providers` lists beside inference."""

from __future__ import annotations

from apps.tools.config import tools_config

# llama-stack's answer for a provider without a health check; a search provider is not asked (every search costs).
NOT_CHECKED = {"status": "Not Implemented", "message": "Provider does not implement health check"}


def tool_runtime_providers() -> list[dict]:
    """The configured server-side tools as llama-stack's `tool_runtime` providers (`ProviderInfo`, secrets
    redacted): the web search provider (`remote::tavily-search` / `remote::brave-search`, with its provider ids),
    and MCP (`remote::model-context-protocol`) when the operator allowed any host."""
    config = tools_config()
    found = []
    if config.web_search is not None:
        name = f"{config.web_search.provider}-search"
        found.append(
            {
                "api": "tool_runtime",
                "provider_id": name,
                "provider_type": f"remote::{name}",
                "config": config.web_search.redacted(),
                "health": dict(NOT_CHECKED),
            }
        )
    if config.mcp.allowed_hosts:
        mcp = config.mcp
        found.append(
            {
                "api": "tool_runtime",
                "provider_id": "model-context-protocol",
                "provider_type": "remote::model-context-protocol",
                "config": {
                    "allowed_hosts": list(mcp.allowed_hosts),
                    "connect_timeout": mcp.connect_timeout,
                    "list_timeout": mcp.list_timeout,
                    "call_timeout": mcp.call_timeout,
                },
                "health": dict(NOT_CHECKED),
            }
        )
    return found
