"""Responses' `web_search` tool: the model may search the web through the operator's search provider.

As OpenAI's: `{"type": "web_search" | "web_search_2025_08_26", "filters", "search_context_size",
"user_location", "external_web_access"}` and `{"type": "web_search_preview" | "web_search_preview_2025_03_11",
"search_context_size", "user_location", "search_content_types"}`, echoed in the response's `tools` as given.

- **Off unless configured**: the provider is the run config's `tools.web_search` (apps.tools.web_search); without
  it a request with this tool is a 400 before anything is stored or called.
- **Calls**: the model is offered one function, `web_search(query)`. A call becomes a `web_search_call` item
  (`action: {"type": "search", "query"}`), streamed as `response.web_search_call.in_progress`, `.searching`,
  `.completed`; the model gets the numbered results (title, URL, snippet) as the tool result, and the loop goes
  on. A search that fails (timeout, provider error, an answer that is not results) makes the item `failed` and
  tells the model so; the response goes on (OpenAI has no `web_search_call.failed` event: the item's
  `output_item.done` says it).
- **Sources**: `action.sources` (the result URLs) are in the item only with
  `include: ["web_search_call.action.sources"]`, as OpenAI gives them; the stored response is the one returned.
- **Citations**: where the answer cites a result's URL (a markdown link or the bare URL), its `output_text` gets a
  `url_citation` annotation (apps.tools.citations); the results of every search of the response count.
- **What is honoured**: `filters.allowed_domains` keeps only results on those domains (or their subdomains).
  `search_context_size`, `user_location` and `search_content_types` are accepted and echoed but change nothing:
  the providers' APIs as stackadmin calls them take a query and a result count, as llama-stack's do.
  `external_web_access: false` (a cache-only search) is refused: there is no cache to search.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from apps.core.errors import BadRequestError
from apps.core.validation import invalid
from apps.tools.citations import url_citations
from apps.tools.config import tools_config
from apps.tools.server_tools import ItemOutput, ServerTool, ToolCall, ToolSetupError
from apps.tools.web_search import (
    SOURCES_INCLUDE,
    TOOL_NAME,
    SearchResults,
    WebSearchConfig,
    WebSearchError,
    new_web_search_call_id,
    sources_of,
    web_search,
    web_search_call_item,
    web_search_call_output,
    web_search_error_result,
    web_search_query,
    web_search_tool,
    web_search_tool_result,
)

_PREVIEW_TYPES = ("web_search_preview", "web_search_preview_2025_03_11")
NOT_CONFIGURED = (
    "Invalid value for '{at}[{index}].type': web search is not available on this server: the operator has not "
    "configured a search provider (the run config's tools.web_search)."
)


# ------------------------------------------------------------------------------------------ the request's tool
class UserLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["approximate"] | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_domains: list[str] | None = None

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        for domain in value or ():
            if not domain.strip() or "/" in domain or " " in domain:
                raise invalid(f"{domain!r}; expected a domain name such as 'pubmed.ncbi.nlm.nih.gov'")
        return value


class WebSearchToolParam(BaseModel):
    """A `web_search` (or `web_search_preview`, or a dated alias) entry of a request's `tools`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"]
    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: UserLocation | None = None
    filters: WebSearchFilters | None = None  # web_search only
    external_web_access: bool | None = None  # web_search only
    search_content_types: list[Literal["text", "image"]] | None = None  # web_search_preview only

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> WebSearchToolParam:
        preview = self.type in _PREVIEW_TYPES
        for name in ("filters", "external_web_access") if preview else ("search_content_types",):
            if name in self.model_fields_set:
                raise invalid(f"{self.type!r} tools have no {name!r}", at=(name,), code="unknown_parameter")
        if self.external_web_access is False:
            raise invalid(
                "false is not supported: stackadmin has no cache of web content; every search asks the provider",
                at=("external_web_access",),
            )
        return self

    def echo(self) -> dict:
        """The tool as given (OpenAI's and llama-stack's echo of a web search tool)."""
        return self.model_dump(mode="json", exclude_unset=True)


def web_search_tools_check(tools: list[tuple[int, WebSearchToolParam]], *, at: str = "tools") -> None:
    """A request's web search tools (each with its index in `tools`, or in the list `at` names: a prompt version's
    `prompt.tools`) need a search provider: a 400 otherwise, before anything is stored or called."""
    if tools and tools_config().web_search is None:
        index = tools[0][0]
        raise BadRequestError(
            NOT_CONFIGURED.format(at=at, index=index), param=f"{at}[{index}].type", code="web_search_not_configured"
        )


def _on_domains(results: SearchResults, domains: Collection[str]) -> SearchResults:
    """The results on `domains` or their subdomains (`filters.allowed_domains`)."""
    wanted = [domain.lower().strip(".") for domain in domains]

    def allowed(url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == domain or host.endswith(f".{domain}") for domain in wanted)

    return SearchResults(query=results.query, results=tuple(r for r in results.results if allowed(r.url)))


def _query(arguments: str) -> tuple[str, WebSearchError | None]:
    """(the query, None), or ("", why the model's arguments name none)."""
    try:
        return web_search_query(arguments), None
    except WebSearchError as exc:
        return "", exc


# ------------------------------------------------------------------------------------------ the tool
class WebSearchServerTool(ServerTool):
    """One web search tool of one response: it keeps the results of its searches, which its citations cite."""

    kind = "web_search"

    def __init__(self, spec: dict, *, include_sources: bool) -> None:
        self._spec = spec
        self.include_sources = include_sources
        self.allowed_domains = tuple((spec.get("filters") or {}).get("allowed_domains") or ())
        self.searches: list[SearchResults] = []
        self.name = TOOL_NAME

    @classmethod
    def from_param(
        cls,
        param: WebSearchToolParam,
        *,
        history_items: list[dict],
        input_items: list[dict],
        include: Collection[str] = (),
    ) -> WebSearchServerTool:
        return cls(param.echo(), include_sources=SOURCES_INCLUDE in include)

    @classmethod
    def from_spec(cls, spec: dict, *, history_items: list[dict], input_items: list[dict]) -> WebSearchServerTool:
        tool = dict(spec["tool"])
        return cls(tool, include_sources=bool(spec.get("include_sources")))

    def echo(self) -> dict:
        return dict(self._spec)

    def spec(self) -> dict:
        # The request's `include` is not the tool's, but a stored plan must show its items the way it was asked.
        return {"type": self._spec["type"], "tool": dict(self._spec), "include_sources": self.include_sources}

    def _config(self) -> WebSearchConfig:
        config = tools_config().web_search
        if config is None:  # a stored plan run after the operator took web search out of the run config
            raise ToolSetupError(
                "Web search is not available on this server: the operator has not configured a search provider.",
                code="server_error",
            )
        return config

    async def prepare(self, out: ItemOutput, messages: list[dict]) -> AsyncIterator[dict]:
        self._config()
        return
        yield  # an async generator that adds nothing: the model decides when to search

    def functions(self, taken: set[str]) -> dict[str, dict]:
        name, number = TOOL_NAME, 1
        while name in taken:  # a client function with that name (or a second web search tool) came first
            number += 1
            name = f"{TOOL_NAME}_{number}"
        self.name = name
        definition = web_search_tool()
        definition["function"]["name"] = name
        return {name: definition}

    def annotations(self, text: str) -> list[dict]:
        return url_citations(text, sources_of(self.searches)) if self.searches else []

    def _shown(self, item: dict) -> dict:
        return web_search_call_output(item, include=(SOURCES_INCLUDE,) if self.include_sources else ())

    async def run(self, call: ToolCall, out: ItemOutput) -> AsyncIterator[dict]:
        query, error = _query(call.arguments)
        item: dict[str, Any] = {
            "id": new_web_search_call_id(),
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search", "query": query},
        }
        yield out.add_item(item)
        yield out.item_event("response.web_search_call.in_progress", item)
        results = None
        if error is None:
            item["status"] = "searching"
            yield out.item_event("response.web_search_call.searching", item)
            results, error = await self._search(query)
        # Updated in place: the response's output holds this very dict.
        final = self._shown(web_search_call_item(query=query, results=results, item_id=item["id"]))
        item.clear()
        item.update(final)
        if error is None and results is not None:
            yield out.item_event("response.web_search_call.completed", item)
            call.output = web_search_tool_result(results)
        else:
            call.output = web_search_error_result(error or WebSearchError("The web search failed."))
        yield out.item_done(item)

    async def _search(self, query: str) -> tuple[SearchResults | None, WebSearchError | None]:
        try:
            results = await web_search(query=query, config=self._config())
        except WebSearchError as exc:
            return None, exc
        except ToolSetupError as exc:
            return None, WebSearchError(exc.message, code="web_search_unavailable")
        if self.allowed_domains:
            results = _on_domains(results, self.allowed_domains)
        self.searches.append(results)
        return results, None
