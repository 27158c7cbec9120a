"""Web search for Responses' `{"type": "web_search"}` tool: the run config's `tools.web_search`, the client that asks
the search provider, and what the tool loop gives the model and the caller.

```yaml
tools:
  web_search:
    provider: tavily                      # or brave
    api_key: ${env.TAVILY_API_KEY}
    # base_url: https://api.tavily.com    # the provider's public API unless given
    # timeout_seconds: 10
    # max_results: 5
```

The two providers are the ones llama-stack offers for its web search tool. A search sends only the query (and the
number of results wanted) to the configured provider, over HTTPS: Tavily's `POST /search` with the key as a bearer
token, Brave's `GET /res/v1/web/search` with the key in `X-Subscription-Token`. The key is never logged, shown
(`WebSearchConfig.redacted()`) or put in an error message.

The client class is `STACKADMIN_WEB_SEARCH_CLASS` (`HTTPWebSearch` by default; tests name a recorder in front of
it), built once per configuration by `web_search_client()` and forgotten when that setting or the run config
changes. Every failure of a search is one `WebSearchError`, whose `code` says which kind.

The loop calls: `web_search_tool()` (the function offered to the model), `web_search()` (when the model calls it),
`web_search_tool_result()` / `web_search_error_result()` (the tool message the model reads),
`web_search_call_item()` (the output item to store) and `web_search_call_output()` (that item as a response shows
it, with `action.sources` only when asked for), and `url_citations()` (apps.tools.citations) on the answer.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.core.config import ConfigError, validation_message
from apps.core.errors import UpstreamError
from apps.core.handlers import RunConfigHandler

REDACTED = "********"  # what llama-stack (and /v1/providers) shows for a secret
TOOL_NAME = "web_search"
SOURCES_INCLUDE = "web_search_call.action.sources"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_ERROR_EXCERPT = 200  # characters of a provider's error body quoted in an error message
MAX_BODY = 4 * 2**20  # bytes of a provider's answer read at most; a page of results is a few KiB


class SearchProvider(StrEnum):
    TAVILY = "tavily"
    BRAVE = "brave"


DEFAULT_BASE_URLS = {
    SearchProvider.TAVILY: "https://api.tavily.com",
    SearchProvider.BRAVE: "https://api.search.brave.com",
}


# ------------------------------------------------------------------------------------------ config
class _WebSearchSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    provider: SearchProvider
    api_key: Annotated[str, Field(min_length=1)]
    base_url: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_results: Annotated[int, Field(ge=1, le=20)] = 5  # both providers return at most 20


@dataclass(frozen=True)
class WebSearchConfig:
    provider: SearchProvider
    api_key: str = field(repr=False)
    base_url: str = ""
    timeout_seconds: float = 10.0
    max_results: int = 5

    def redacted(self) -> dict:
        """The section as it may be shown (a providers listing, a `check` command): everything but the key."""
        return {
            "provider": str(self.provider),
            "api_key": REDACTED,
            "base_url": self.base_url,
            "timeout_seconds": self.timeout_seconds,
            "max_results": self.max_results,
        }


def _base_url(value: str, path: str) -> str:
    """An HTTPS URL without credentials or query; plain HTTP only on loopback (a local stand-in), so the key
    never crosses a network in the clear."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{path}: must be an https URL (got {value!r})")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigError(f"{path}: must be an https URL; plain http is allowed on loopback only (got {value!r})")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{path}: must not carry credentials, a query or a fragment; the key goes in api_key")
    return value.rstrip("/")


def parse_web_search(raw: Any, path: str = "tools.web_search") -> WebSearchConfig | None:
    """The `tools.web_search` section, or None when it is absent (web search is then unavailable)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping (provider, api_key, base_url, timeout_seconds, max_results)")
    try:
        section = _WebSearchSection.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["loc"] and err["loc"][0] == "api_key" and err["type"] != "missing":
            # pydantic would quote the value: a key must not appear in a message, even a malformed one.
            raise ConfigError(f"{path}.api_key: must be a non-empty string") from None
        raise ConfigError(validation_message(path, exc)) from None
    base_url = section.base_url
    return WebSearchConfig(
        provider=section.provider,
        api_key=section.api_key,
        base_url=_base_url(base_url, f"{path}.base_url") if base_url else DEFAULT_BASE_URLS[section.provider],
        timeout_seconds=section.timeout_seconds,
        max_results=section.max_results,
    )


# ------------------------------------------------------------------------------------------ results and errors
@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    content: str = ""  # the provider's snippet of the page

    def as_dict(self) -> dict:
        return {"title": self.title, "url": self.url, "content": self.content}


@dataclass(frozen=True)
class SearchResults:
    query: str
    results: tuple[SearchResult, ...] = ()

    def as_dict(self) -> dict:
        return {"query": self.query, "results": [r.as_dict() for r in self.results]}

    @classmethod
    def from_dict(cls, data: dict) -> SearchResults:
        return cls(query=data["query"], results=tuple(SearchResult(**r) for r in data["results"]))


class WebSearchError(UpstreamError, code="web_search_failed"):
    """A search that did not produce results. `code` says why: `web_search_timeout`, `web_search_unreachable`,
    `web_search_auth` (the provider refused the key), `web_search_http_error` (another 4xx/5xx),
    `web_search_invalid_response` (not JSON, or not the provider's shape), `web_search_invalid_query`.
    The message names the provider and never holds the key."""


# ------------------------------------------------------------------------------------------ the client
class WebSearchClient(Protocol):
    """What `STACKADMIN_WEB_SEARCH_CLASS` names: built with a `WebSearchConfig`, it answers one query at a time."""

    config: WebSearchConfig

    async def search(self, query: str) -> SearchResults: ...


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _plain(value: Any) -> str:
    """Brave marks the query's words in titles and snippets with HTML (`<strong>`); the model gets plain text."""
    return html.unescape(re.sub(r"<[^>]+>", "", _text(value)))


class HTTPWebSearch:
    """The provider's HTTP API, reached with httpx.

    A connection per search: an httpx pool belongs to the event loop that opened it and requests run on many loops
    (one per request thread); a search is a single request per tool call, so the handshake it repeats is small
    beside the search itself."""

    def __init__(self, config: WebSearchConfig) -> None:
        self.config = config

    @property
    def _who(self) -> str:
        return f"The web search provider '{self.config.provider}'"

    def _error(self, message: str, code: str) -> WebSearchError:
        # The key is never put in a message on purpose; this also keeps it out of one a provider echoed.
        return WebSearchError(message.replace(self.config.api_key, REDACTED), code=code)

    def _request(self, query: str) -> httpx.Request:
        config = self.config
        if config.provider == SearchProvider.TAVILY:
            return httpx.Request(
                "POST",
                f"{config.base_url}/search",
                json={"query": query, "max_results": config.max_results},
                headers={"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"},
            )
        return httpx.Request(
            "GET",
            f"{config.base_url}/res/v1/web/search",
            params={"q": query, "count": config.max_results},
            headers={"X-Subscription-Token": config.api_key, "Accept": "application/json"},
        )

    def _check(self, query: str) -> None:
        if not query.strip():
            raise self._error("The web search query is empty.", "web_search_invalid_query")
        try:
            query.encode()
        except UnicodeEncodeError:  # a lone surrogate, which a model's JSON arguments can carry
            raise self._error("The web search query is not valid text.", "web_search_invalid_query") from None

    async def _send(self, client: httpx.AsyncClient, query: str) -> tuple[int, bytes]:
        """(status, body), reading at most `MAX_BODY` bytes of what a misbehaving provider may send."""
        response = await client.send(self._request(query), stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise self._error(
                        f"{self._who} answered more than {MAX_BODY // 2**20} MiB.", "web_search_invalid_response"
                    )
            return response.status_code, bytes(body)
        finally:
            await response.aclose()

    async def search(self, query: str) -> SearchResults:
        self._check(query)
        timeout = httpx.Timeout(self.config.timeout_seconds)
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                status, body = await self._send(client, query)
        except httpx.TimeoutException:
            raise self._error(
                f"{self._who} did not answer within {self.config.timeout_seconds:g} s.", "web_search_timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise self._error(
                f"{self._who} could not be reached ({type(exc).__name__}).", "web_search_unreachable"
            ) from None
        return self._parse(query, status, body)

    def _parse(self, query: str, status: int, raw: bytes) -> SearchResults:
        if status in (401, 403):
            raise self._error(
                f"{self._who} refused the API key (HTTP {status}); check tools.web_search.api_key.", "web_search_auth"
            )
        if status >= 300:  # redirects are not followed: the key goes only where the config says
            excerpt = " ".join(raw.decode(errors="replace").split())[:_ERROR_EXCERPT]
            raise self._error(f"{self._who} answered HTTP {status}: {excerpt or 'no details'}", "web_search_http_error")
        try:
            body = json.loads(raw)
        except ValueError:  # UnicodeDecodeError included
            raise self._error(
                f"{self._who} answered with a body that is not JSON.", "web_search_invalid_response"
            ) from None
        entries = self._entries(body)
        if entries is None:
            raise self._error(
                f"{self._who} answered JSON that is not a search result list.", "web_search_invalid_response"
            )
        return SearchResults(query=query, results=self._results(entries))

    def _entries(self, body: Any) -> list | None:
        """The provider's list of result objects, or None when the body is not the provider's shape."""
        if not isinstance(body, dict):
            return None
        if self.config.provider == SearchProvider.TAVILY:
            entries = body.get("results")
        else:
            web = body.get("web", {"results": []})  # Brave leaves `web` out when nothing was found
            entries = web.get("results") if isinstance(web, dict) else None
        return entries if isinstance(entries, list) else None

    def _results(self, entries: list) -> tuple[SearchResult, ...]:
        if self.config.provider == SearchProvider.TAVILY:
            snippet, text = "content", _text
        else:
            snippet, text = "description", _plain
        found = []
        for entry in entries:
            url = entry.get("url") if isinstance(entry, dict) else None
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
                continue  # a result the model could not cite
            found.append(SearchResult(title=text(entry.get("title")) or url, url=url, content=text(entry.get(snippet))))
        return tuple(found[: self.config.max_results])


class _Clients(RunConfigHandler[WebSearchConfig, WebSearchClient]):
    setting_names = frozenset({"STACKADMIN_RUN_CONFIG", "STACKADMIN_WEB_SEARCH_CLASS"})

    def create(self, key: WebSearchConfig) -> WebSearchClient:
        return import_string(settings.STACKADMIN_WEB_SEARCH_CLASS)(key)


_clients = _Clients()


def web_search_client(config: WebSearchConfig) -> WebSearchClient:
    """The client for `config`, of the class `STACKADMIN_WEB_SEARCH_CLASS` names (built on first use)."""
    return _clients[config]


async def web_search(*, query: str, config: WebSearchConfig) -> SearchResults:
    """Ask the configured provider; `WebSearchError` when that fails in any way."""
    return await web_search_client(config).search(query)


# ------------------------------------------------------------------------------------------ for the tool loop
def web_search_tool() -> dict:
    """The function offered to the model (chat-completions shape) in place of a `web_search` tool."""
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": (
                "Search the web for current information. Returns numbered sources (title, URL, snippet); "
                "cite the sources you use by their URL."
            ),
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to search the web for."}},
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    }


def web_search_query(arguments: str) -> str:
    """The query from the model's call arguments (a JSON object with `query`); `WebSearchError` if there is none."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        parsed = None
    query = parsed.get("query") if isinstance(parsed, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise WebSearchError(
            'The web_search call needs arguments {"query": "<what to search for>"}.', code="web_search_invalid_query"
        )
    return query


def web_search_tool_result(results: SearchResults) -> str:
    """The tool message the model reads: the sources, numbered, and how to cite them."""
    if not results.results:
        return f"The web search for {results.query!r} found nothing."
    lines = [f"Web search results for {results.query!r}:", ""]
    for number, result in enumerate(results.results, start=1):
        lines += [f"[{number}] {result.title}", f"URL: {result.url}"]
        if result.content:
            lines.append(result.content)
        lines.append("")
    lines.append(
        "Answer from these sources. Cite each source you use with a markdown link to its exact URL, like [title](URL)."
    )
    return "\n".join(lines)


def web_search_error_result(error: WebSearchError) -> str:
    """The tool message the model reads when the search failed, so it can answer without it (or say so)."""
    return f"The web search failed: {error.message}"


def new_web_search_call_id() -> str:
    return f"ws_{secrets.token_hex(24)}"


def web_search_call_item(*, query: str, results: SearchResults | None, item_id: str | None = None) -> dict:
    """The `web_search_call` output item to store: `completed` with the results' URLs in `action.sources`, or
    `failed` (results None). Show it with `web_search_call_output`, which keeps the sources only when asked."""
    action: dict[str, Any] = {"type": "search", "query": query}
    if results is not None:
        action["sources"] = [{"type": "url", "url": r.url} for r in results.results]
    return {
        "type": "web_search_call",
        "id": item_id or new_web_search_call_id(),
        "status": "completed" if results is not None else "failed",
        "action": action,
    }


def web_search_call_output(item: dict, *, include: Collection[str] | None = ()) -> dict:
    """A stored `web_search_call` item as a response shows it: OpenAI gives `action.sources` only with
    `include: ["web_search_call.action.sources"]`."""
    if SOURCES_INCLUDE in (include or ()) or "sources" not in item.get("action", {}):
        return item
    action = {k: v for k, v in item["action"].items() if k != "sources"}
    return {**item, "action": action}


def sources_of(results: Iterable[SearchResults]) -> list[SearchResult]:
    """Every result of a response's searches, in order: what `url_citations` may cite."""
    return [result for search in results for result in search.results]
