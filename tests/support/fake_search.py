"""A deterministic web search provider on loopback: the outside world of the web search tests.

It speaks both APIs stackadmin calls, over real HTTP:

- Tavily: `POST /search` with `Authorization: Bearer <key>` and a JSON body `{"query", "max_results"}`, answering
  `{"query", "results": [{"title", "url", "content", "score"}], "response_time"}`;
- Brave: `GET /res/v1/web/search?q=…&count=…` with `X-Subscription-Token: <key>`, answering
  `{"type": "search", "query": {"original"}, "web": {"type": "search", "results": [{"title", "url",
  "description"}]}}` (Brave's titles and snippets are HTML: text escaped, the query marked with `<strong>`).

A wrong or missing key is the provider's 401. The results depend only on the query (`results_for`), so recordings
made against it replay exactly. Cues in the query steer it, as the fake model server's do:

- `#slow` or `#slow:SECONDS`: wait (default 30 s) before answering: a timeout for a client that gives up sooner;
- `#fail500`: an HTTP 500 (its message quotes the query, as providers' errors may quote the request);
- `#garbage`: a 200 whose body is not JSON;
- `#shape`: a 200 with JSON that is not a result list;
- `#empty`: no results;
- `#huge`: a 200 of 5 MiB (more than a client should read);
- `#redirect`: a 302 to another address (where the key must not follow).

Run it alone: `python -m tests.support.fake_search --port 8398 --key fake-search-key`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import json
import re
from urllib.parse import parse_qs

from tests.support.loopback import LoopbackServer, read_body, send_json

KEY = "fake-search-key"


def _slug(query: str) -> str:
    words = re.findall(r"[a-z0-9]+", query.lower())
    return "-".join(words[:4]) or "query"


def results_for(query: str, count: int) -> list[dict]:
    """`count` results (at most 10) derived from the query alone: title, url, snippet."""
    digest = hashlib.sha256(query.encode()).hexdigest()[:8]
    return [
        {
            "title": f"Result {n} about {query}",
            "url": f"https://example.org/{_slug(query)}/{digest}/{n}",
            "content": f"Snippet {n}: what the web says about {query}.",
        }
        for n in range(1, min(count, 10) + 1)
    ]


async def _redirect(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [(b"location", b"http://127.0.0.1:9/elsewhere"), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _tavily(body: bytes) -> tuple[str | None, int]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, 0
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return (query if isinstance(query, str) else None), int(parsed.get("max_results", 5))


def _brave(query_string: bytes) -> tuple[str | None, int]:
    params = parse_qs(query_string.decode())
    return (params.get("q") or [None])[0], int((params.get("count") or ["20"])[0])


def _tavily_answer(query: str, count: int) -> dict:
    results = [{**r, "score": round(0.9 - n / 100, 2)} for n, r in enumerate(results_for(query, count))]
    return {"query": query, "answer": None, "images": [], "results": results, "response_time": 0.01}


def _brave_answer(query: str, count: int) -> dict:
    def marked(text: str) -> str:
        escaped = html.escape(query, quote=False)
        return html.escape(text, quote=False).replace(escaped, f"<strong>{escaped}</strong>")

    results = [
        {"type": "search_result", "title": marked(r["title"]), "url": r["url"], "description": marked(r["content"])}
        for r in results_for(query, count)
    ]
    return {"type": "search", "query": {"original": query}, "web": {"type": "search", "results": results}}


class FakeSearch(LoopbackServer):
    """The fake served by uvicorn on a loopback port, in a background thread of the current process.
    `requests` lists what it was asked (provider, query), so a test can tell that a replay asked nothing."""

    def __init__(self, port: int, *, key: str = KEY) -> None:
        super().__init__(
            self.app,
            port,
            what="the fake search provider",
            thread_name="fake-search",
            lifespan="off",
            interface="asgi3",
        )
        self.port = port
        self.key = key
        self.url = f"http://127.0.0.1:{port}"
        self.requests: list[tuple[str, str]] = []

    def _route(self, scope, body: bytes) -> tuple[str, bool, str | None, int] | None:
        """(provider, key accepted, query, count) for a known route, else None."""
        headers = dict(scope["headers"])
        if scope["path"] == "/search" and scope["method"] == "POST":
            query, count = _tavily(body)
            return "tavily", headers.get(b"authorization") == f"Bearer {self.key}".encode(), query, count
        if scope["path"] == "/res/v1/web/search" and scope["method"] == "GET":
            query, count = _brave(scope["query_string"])
            return "brave", headers.get(b"x-subscription-token") == self.key.encode(), query, count
        return None

    async def app(self, scope, receive, send) -> None:
        body = await read_body(receive)
        route = self._route(scope, body)
        if route is None:
            await send_json(send, 404, {"detail": f"No route {scope['method']} {scope['path']}"})
            return
        provider, authorised, query, count = route
        if not authorised:
            error = {"detail": {"error": "Unauthorized: missing or invalid API key."}}
            if provider == "brave":
                error = {"type": "ErrorResponse", "error": {"status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID"}}
            await send_json(send, 401, error)
            return
        if not query:
            await send_json(send, 400, {"detail": {"error": "query is required"}})
            return
        self.requests.append((provider, query))
        await self._answer(send, provider, query, count)

    async def _answer(self, send, provider: str, query: str, count: int) -> None:
        slow = re.search(r"#slow(?::([0-9.]+))?", query)
        if slow:
            await asyncio.sleep(float(slow.group(1) or 30))
        if "#fail500" in query:
            await send_json(send, 500, {"detail": {"error": f"The fake search provider exploded on {query!r}."}})
        elif "#garbage" in query:
            await send_json(send, 200, raw=b"<html>this is not json</html>")
        elif "#huge" in query:
            await send_json(send, 200, raw=b"[" + b"0," * (5 * 2**19) + b"0]")
        elif "#redirect" in query:
            await _redirect(send)
        elif "#shape" in query:
            await send_json(send, 200, {"results": "not a list", "web": {"results": {"not": "a list"}}})
        else:
            count = 0 if "#empty" in query else count
            answer = _tavily_answer(query, count) if provider == "tavily" else _brave_answer(query, count)
            await send_json(send, 200, answer)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8398)
    parser.add_argument("--key", default=KEY)
    args = parser.parse_args()
    fake = FakeSearch(args.port, key=args.key)
    uvicorn.run(
        fake.app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        interface="asgi3",
    )


if __name__ == "__main__":
    main()
