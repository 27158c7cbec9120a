"""A deterministic OpenAI-compatible model server: the one fake in the inference and responses tests.

It speaks the real HTTP protocol (`GET /v1/models`, `POST /v1/chat/completions`, JSON or server-sent events) and
answers at once. What it says depends only on the request, so recordings made against it replay exactly. Cues in
the last user message steer it:

- `#echo`: the reply is a JSON object `{"messages": [...], "params": {...}}` of what it was sent.
- `#call:NAME` or `#call:NAME{"json": "arguments"}` (repeatable): call those functions (the tools must be offered;
  with `parallel_tool_calls: false` only the first). A forced `tool_choice` (or `required`) calls a tool without a
  cue; `tool_choice: none` never calls one.
- `#slow` or `#slow:SECONDS`: wait (default 30 s) before answering: a timeout for a client that gives up sooner.
- `#drip:SECONDS`: a stream that waits that long before each chunk (a slow answer that is already underway: for
  cancelling a running response, or killing the process computing it).
- `#garbage`: a 200 whose body is not JSON (in a stream: one chunk that is not JSON).
- `#fail500`: an HTTP 500 with an OpenAI error body.
- `#midstream`: a stream that sends two deltas and then drops the connection.
- `#unstorable`: the reply holds text no store can hold: a NUL and a lone surrogate (`"\\u0000"`, `"\\udc80"`).
- `#id:NAME`: the completion's id is `chatcmpl-NAME` every time, as on servers that reuse ids (Ollama's are
  `chatcmpl-` and a number below 1000).
- `#search:TEXT` (last, running to the end of the line): call the offered `web_search` function with
  `{"query": "TEXT"}` (after the `#call` cues). TEXT is the query only, not a cue for this server, so it may carry
  the fake search provider's cues (`#search:news #fail500` fails the search, not the model call).
- `#cite`: after web search results (a tool message listing `[n] title` / `URL: url`), answer citing the first
  result as a markdown link `[title](url)` and the second by its bare URL, as a model told to cite would.

With `logprobs: true` each token (a word) of the reply comes with its log probability and `top_logprobs`
alternatives (`<token>~1`, `<token>~2`, ...), as OpenAI's chat completions give them. A requested `service_tier`
is reported back (`auto` as `default`), as OpenAI reports the tier it used.

Otherwise the reply is `Hello! You said: <the last user text>`, or after tool results
`The function returned: <their contents>`. With `response_format` json_schema the reply is a JSON object made from
the schema. `max_tokens`/`max_completion_tokens` cut the reply to that many words (`finish_reason: length`).
Usage counts words.

Run it alone: `python -m tests.support.fake_upstream --port 8399`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import uuid
from typing import Any

from tests.support.loopback import LoopbackServer, read_body, send_json

MODELS = ("fake-model", "fake-model-2")
CREATED = 1_700_000_000
_CALL_RE = re.compile(r"#call:([A-Za-z0-9_-]+)(\{[^#]*\})?")
_ID_RE = re.compile(r"#id:([A-Za-z0-9_-]+)")
_SEARCH_CUE = "#search:"
_SOURCE_RE = re.compile(r"^\[\d+\] (.*)\nURL: (\S+)$", re.M)


# ------------------------------------------------------------------------------------------ behaviour
def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _last_user_text(messages: list[dict]) -> str:
    """The cue: the text of the last user message that has any (an image-only message, such as the one a prompt's
    media variables become, carries none)."""
    for message in reversed(messages):
        if message.get("role") == "user" and (text := _text_of(message.get("content"))):
            return text
    return ""


def _cue(messages: list[dict]) -> str:
    """The cues for this server: the last user text, up to a `#search:` query (which is the search's)."""
    return _last_user_text(messages).partition(_SEARCH_CUE)[0]


def _search_call(text: str, tools: set[str]) -> list[tuple[str, str]]:
    """The `web_search` call a `#search:` cue asks for, when the function is offered."""
    _, cued, query = text.partition(_SEARCH_CUE)
    query = query.splitlines()[0].strip() if query.strip() else ""
    if not cued or "web_search" not in tools:
        return []
    return [("web_search", json.dumps({"query": query}))]


def _cited(results: list[str]) -> str | None:
    """An answer that cites web search results (`#cite`), or None when the tool results list none."""
    sources = [match for text in results for match in _SOURCE_RE.findall(text)]
    if not sources:
        return None
    title, url = sources[0]
    answer = f"According to [{title}]({url}), the web has an answer."
    if len(sources) > 1:
        answer += f" See also {sources[1][1]} for more."
    return answer


def _sample(schema: dict) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {name: _sample(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_sample(schema.get("items") or {"type": "string"})]
    if kind == "integer":
        return 42
    if kind == "number":
        return 4.2
    if kind == "boolean":
        return True
    return "sample"


def _count(text: str) -> int:
    return len(text.split())


def _tool_calls(body: dict, cue_text: str) -> list[dict]:
    tools = {t["function"]["name"] for t in body.get("tools") or () if isinstance(t, dict) and t.get("function")}
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return []
    own, _, _ = cue_text.partition(_SEARCH_CUE)
    wanted = [(name, args or "{}") for name, args in _CALL_RE.findall(own) if name in tools]
    wanted += _search_call(cue_text, tools)
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
        wanted = [w for w in wanted if w[0] == forced] or [(forced, "{}")]
    elif choice == "required" and not wanted:
        wanted = [(sorted(tools)[0], "{}")]
    if body.get("parallel_tool_calls") is False:
        wanted = wanted[:1]
    seed = json.dumps(body.get("messages"), sort_keys=True)
    calls = []
    for index, (name, args) in enumerate(wanted):
        digest = hashlib.sha256(f"{seed}|{index}|{name}|{args}".encode()).hexdigest()[:24]
        calls.append({"id": f"call_{digest}", "type": "function", "function": {"name": name, "arguments": args}})
    return calls


def reply(body: dict) -> tuple[str | None, list[dict], str]:
    """(content, tool calls, finish_reason) for a chat request."""
    messages = body.get("messages") or []
    cue = _cue(messages)
    last = messages[-1] if messages else {}
    calls = _tool_calls(body, _last_user_text(messages)) if last.get("role") == "user" or "#loop" in cue else []
    if calls:
        return None, calls, "tool_calls"
    if "#echo" in cue:
        params = {
            k: body[k]
            for k in (
                "temperature",
                "top_p",
                "max_tokens",
                "max_completion_tokens",
                "response_format",
                "tools",
                "tool_choice",
                "parallel_tool_calls",
                "reasoning_effort",
                "logprobs",
                "top_logprobs",
                "service_tier",
                "user",
                "safety_identifier",
                "prompt_cache_key",
            )
            if k in body
        }
        return json.dumps({"messages": messages, "params": params}, sort_keys=True), [], "stop"
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        text = json.dumps(_sample((fmt.get("json_schema") or {}).get("schema") or {}))
    elif fmt.get("type") == "json_object":
        text = json.dumps({"answer": "sample"})
    elif last.get("role") == "tool":
        results = []
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            results.insert(0, _text_of(message.get("content")))
        cited = _cited(results) if "#cite" in cue else None
        text = cited or "The function returned: " + " | ".join(results)
    elif "#unstorable" in cue:
        text = "nul:\x00 surrogate:\udc80"
    else:
        text = f"Hello! You said: {cue}"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    words = text.split(" ")
    if isinstance(limit, int) and len(words) > limit:
        return " ".join(words[:limit]), [], "length"
    return text, [], "stop"


def _usage(body: dict, content: str | None, calls: list[dict]) -> dict:
    prompt = sum(_count(_text_of(m.get("content"))) for m in body.get("messages") or ())
    completion = _count(content or "") + sum(_count(c["function"]["arguments"]) for c in calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_id(body: dict) -> str:
    fixed = _ID_RE.search(_cue(body.get("messages") or []))
    return f"chatcmpl-{fixed.group(1)}" if fixed else f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _token_logprob(token: str, rank: int) -> dict:
    return {"token": token, "logprob": -0.25 * (rank + 1), "bytes": list(token.encode())}


def _logprobs(body: dict, tokens: list[str]) -> dict | None:
    """OpenAI's `choice.logprobs` for these tokens, when the request asks for them."""
    if not body.get("logprobs"):
        return None
    top = body.get("top_logprobs") or 0
    content = [
        {**_token_logprob(t, 0), "top_logprobs": [_token_logprob(t if r == 0 else f"{t}~{r}", r) for r in range(top)]}
        for t in tokens
    ]
    return {"content": content, "refusal": None}


def _tokens(content: str | None) -> list[str]:
    words = (content or "").split(" ") if content else []
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _service_tier(body: dict) -> dict:
    tier = body.get("service_tier")
    return {"service_tier": "default" if tier == "auto" else tier} if tier else {}


def completion(body: dict) -> dict:
    content, calls, finish = reply(body)
    message: dict = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": _completion_id(body),
        "object": "chat.completion",
        "created": CREATED,
        "model": body["model"],
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish, "logprobs": _logprobs(body, _tokens(content))}
        ],
        "usage": _usage(body, content, calls),
        "system_fingerprint": "fake",
        **_service_tier(body),
    }


def chunks(body: dict) -> list[dict]:
    content, calls, finish = reply(body)
    base = {"id": _completion_id(body), "object": "chat.completion.chunk", "created": CREATED}
    base["model"] = body["model"]
    base.update(_service_tier(body))

    def chunk(delta: dict, finish_reason: str | None = None, logprobs: dict | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": logprobs}
        return {**base, "choices": [choice]}

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": token}, logprobs=_logprobs(body, [token])) for token in _tokens(content)]
    for index, call in enumerate(calls):
        args = call["function"]["arguments"]
        half = len(args) // 2
        first = {"index": index, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
        first["function"]["arguments"] = ""
        out.append(chunk({"tool_calls": [first]}))
        for piece in (args[:half], args[half:]):
            if piece:
                out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    out.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        out.append({**base, "choices": [], "usage": _usage(body, content, calls)})
    return out


# ------------------------------------------------------------------------------------------ ASGI
def _error(message: str, code: str | None = None, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class MidstreamFailure(Exception):
    """Raised inside the app so the server drops the connection halfway through a stream."""


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _refusal(raw: bytes) -> tuple[int, dict] | tuple[None, dict]:
    """(status, error body) for a chat request the fake refuses, else (None, the parsed request)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return 400, _error("We could not parse the JSON body of your request.")
    if body.get("model") not in MODELS:
        return 404, _error(f"The model `{body.get('model')}` does not exist.", "model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, _error("'messages' must be a non-empty array.")
    return None, body


async def _stream(send, body: dict, cue: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    events = chunks(body)
    drip = re.search(r"#drip:([0-9.]+)", cue)
    for index, event in enumerate(events):
        if drip and index:
            await asyncio.sleep(float(drip.group(1)))
        if "#midstream" in cue and index == 3:
            raise MidstreamFailure("dropping the connection on purpose")
        data = b"{not json" if "#garbage" in cue and index == 2 else json.dumps(event).encode()
        await send({"type": "http.response.body", "body": b"data: " + data + b"\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


async def _chat(send, body: dict) -> None:
    cue = _cue(body["messages"])
    slow = re.search(r"#slow(?::([0-9.]+))?", cue)
    if slow:
        await asyncio.sleep(float(slow.group(1) or 30))
    if "#fail500" in cue:
        await send_json(send, 500, _error("The fake model server exploded.", None, "server_error"))
    elif body.get("stream"):
        await _stream(send, body, cue)
    elif "#garbage" in cue:
        await send_json(send, 200, None, raw=b"<html>this is not json</html>")
    else:
        await send_json(send, 200, completion(body))


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if path.startswith("/v1/"):
        path = path[3:]
    raw = await read_body(receive)
    if path == "/models" and method == "GET":
        data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in MODELS]
        await send_json(send, 200, {"object": "list", "data": data})
        return
    if path != "/chat/completions" or method != "POST":
        await send_json(send, 404, _error(f"No route {method} {path}", "not_found"))
        return
    status, body = _refusal(raw)
    if status is not None:
        await send_json(send, status, body)
        return
    await _chat(send, body)


# ------------------------------------------------------------------------------------------ running
class FakeUpstream(LoopbackServer):
    """The fake served by uvicorn on a loopback port, in a background thread of the current process."""

    def __init__(self, port: int) -> None:
        super().__init__(app, port, what="the fake upstream", thread_name="fake-upstream", lifespan="off")
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8399)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off", access_log=False)


if __name__ == "__main__":
    main()
