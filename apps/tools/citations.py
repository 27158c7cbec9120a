"""`url_citation` annotations: where an answer cites one of the web search's sources.

The model is asked to cite with markdown links (apps.tools.web_search.web_search_tool_result); it sometimes writes
a bare URL instead. Both are annotated, and only URLs among the search results: a link the model made up, or one
to a page it was not given, is left alone, as OpenAI annotates only the sources its search returned.

Indices are Python `str` indices (Unicode code points) into the output text, `end_index` exclusive: OpenAI's
reference calls them "the index of the first/last character of the URL citation", and its SDKs' examples slice
`text[start_index:end_index]` to get the cited span. A markdown link's span is the whole `[title](url)`; a bare
URL's is the URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from apps.tools.web_search import SearchResult

# `[text](url)` or `[text](url "title")`; a URL may hold one level of balanced parentheses (Wikipedia's do).
_MARKDOWN_LINK = re.compile(
    r"\[(?P<text>[^\[\]]*)\]\(\s*<?(?P<url>https?://(?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_BARE_URL = re.compile(r"https?://[^\s<>\[\]()\"'`]+(?:\([^\s()<>]*\)[^\s<>\[\]()\"'`]*)*")
_TRAILING = ".,;:!?*_~"  # sentence punctuation and markdown emphasis that end a sentence, not a URL


def _key(url: str) -> str:
    """Two spellings of one source: with or without a trailing slash."""
    return url.rstrip("/")


def _titles(sources: Iterable[SearchResult | Mapping]) -> dict[str, str]:
    titles: dict[str, str] = {}
    for source in sources:
        url, title = (
            (source.url, source.title) if isinstance(source, SearchResult) else (source["url"], source.get("title"))
        )
        titles.setdefault(_key(url), title or "")
    return titles


def _citation(start: int, end: int, url: str, title: str) -> dict:
    return {"type": "url_citation", "start_index": start, "end_index": end, "url": url, "title": title}


def url_citations(text: str, sources: Iterable[SearchResult | Mapping]) -> list[dict]:
    """The annotations for `text` (an answer's output text), in order of position; `sources` are the search
    results the model was given (`SearchResult`s or mappings with `url` and `title`)."""
    titles = _titles(sources)
    found: list[dict] = []
    taken: list[tuple[int, int]] = []
    for match in _MARKDOWN_LINK.finditer(text):
        url = match.group("url")
        taken.append(match.span())
        if _key(url) in titles:
            title = titles[_key(url)] or match.group("text") or url
            found.append(_citation(match.start(), match.end(), url, title))
    for match in _BARE_URL.finditer(text):
        start = match.start()
        if any(a <= start < b for a, b in taken):
            continue  # the URL of a markdown link, already looked at
        url = match.group().rstrip(_TRAILING)
        if _key(url) in titles:
            found.append(_citation(start, start + len(url), url, titles[_key(url)] or url))
    return sorted(found, key=lambda c: c["start_index"])
