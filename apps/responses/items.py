"""Responses items <-> chat messages, and `tools`, `tool_choice` and `text.format` as a chat completion takes them.

A response is computed by one chat-completion call (or a tool loop of them). Its input items become chat
messages: messages by role (`developer` is sent as `system`, which every OpenAI-compatible server knows),
consecutive `function_call` items one assistant message carrying all those tool calls, each `function_call_output`
a `tool` message, an `mcp_call` the assistant's call and the tool message with its result. The messages of earlier
turns are not rebuilt from items but taken as stored (see apps.responses.models), so tool calls survive multi-turn
exactly (a `previous_response_id` chain sees its web searches' calls and the results the model read).

A `web_search_call` item is skipped, as llama-stack skips it: it holds the query and at most the result URLs, not
the titles and snippets the model read, so a call rebuilt from it would show the model results it never had. The
answer that followed it (with its cited links) carries what the search gave.

What a request may hold is its schema's business (`apps.responses.schemas`); what is refused here is what a
chat model cannot be sent, in this turn's input or in a conversation's stored history alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.core import signing

from apps.core.errors import BadRequestError
from apps.tools.server_tools import call_id_for


def new_output_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(24)}"


def _bad(message: str, param: str, code: str = "invalid_value") -> BadRequestError:
    return BadRequestError(message, param=param, code=code)


# ------------------------------------------------------------------------------------------ items
def part_to_chat(part: dict, param: str) -> dict:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "refusal":
        return {"type": "text", "text": part.get("refusal", "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not url:
            raise _bad(
                f"Invalid value for '{param}': only images given by 'image_url' (an https or data URL) are supported.",
                param,
            )
        image = {"url": url}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if not part.get("file_data"):
            raise _bad(f"Invalid value for '{param}': only files given inline by 'file_data' are supported.", param)
        file = {"file_data": part["file_data"]}
        if part.get("filename"):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    raise _bad(f"Invalid value for '{param}.type': content parts of type {kind!r} are not supported.", f"{param}.type")


def _content_to_chat(content: Any, role: str, param: str) -> str | list:
    if isinstance(content, str):
        return content
    parts = [part_to_chat(part, f"{param}[{i}]") for i, part in enumerate(content)]
    if all(p["type"] == "text" for p in parts):
        # Plain text goes as a string: the one content form every chat server accepts for every role.
        return "\n".join(p["text"] for p in parts) if role != "user" or len(parts) == 1 else parts
    return parts


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    texts = [p.get("text", "") for p in output if isinstance(p, dict) and "text" in p]
    return "\n".join(texts)


# ------------------------------------------------------------------------------------------ compaction
_COMPACTION_SALT = "stackadmin.responses.compaction"
COMPACTION_PREFIX = "Summary of the earlier conversation (compacted):\n"


def compaction_content(summary: str) -> str:
    """A compaction item's `encrypted_content`: the summary, compressed and signed with the server's secret key (so
    only this server's summaries are taken back; signed, not encrypted: whoever holds it can read it)."""
    return signing.dumps({"summary": summary}, salt=_COMPACTION_SALT, compress=True)


def compaction_message(item: dict, where: str) -> dict:
    """The chat message a compaction item stands for: its summary, as a system message."""
    try:
        summary = signing.loads(item["encrypted_content"], salt=_COMPACTION_SALT)["summary"]
    except (signing.BadSignature, KeyError, TypeError):
        raise _bad(
            f"Invalid value for '{where}.encrypted_content': not a compaction made by this server.",
            f"{where}.encrypted_content",
            "invalid_encrypted_content",
        ) from None
    return {"role": "system", "content": COMPACTION_PREFIX + summary}


def tool_call_ids(messages: list[dict]) -> set[str]:
    return {call.get("id") for m in messages for call in (m.get("tool_calls") or ()) if isinstance(call, dict)}


def _add_call(messages: list[dict], item: dict) -> None:
    """A `function_call` item: one more tool call of the assistant message just before, else a message of its own."""
    function = {"name": item["name"], "arguments": item["arguments"]}
    call = {"id": item["call_id"], "type": "function", "function": function}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str):
        last["tool_calls"] = [call]
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def items_to_messages(items: list[dict], *, known_calls: set[str], param: str = "input") -> list[dict]:
    """Chat messages for `items`. A `function_call_output` must answer a call made earlier (here or before)."""
    messages: list[dict] = []
    calls = set(known_calls)
    for index, item in enumerate(items):
        kind = item["type"]
        where = f"{param}[{index}]"
        if kind == "message":
            role = "system" if item["role"] == "developer" else item["role"]
            if role not in ("system", "user", "assistant"):
                raise _bad(
                    f"Invalid value for '{where}.role': {item['role']!r} messages cannot be sent.", f"{where}.role"
                )
            messages.append({"role": role, "content": _content_to_chat(item["content"], role, f"{where}.content")})
        elif kind == "function_call":
            _add_call(messages, item)
            calls.add(item["call_id"])
        elif kind == "function_call_output":
            if item["call_id"] not in calls:
                raise _bad(
                    f"No tool call found for function call output with call_id {item['call_id']}.",
                    f"{where}.call_id",
                    "function_call_not_found",
                )
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": _output_text(item["output"])})
        elif kind == "compaction":
            messages.append(compaction_message(item, where))
        elif kind == "mcp_call":
            messages += mcp_call_messages(item)
    return messages


def mcp_call_messages(item: dict) -> list[dict]:
    """An `mcp_call` item (given as input, or from a conversation) in chat form: the assistant's call, then its
    result (or its error) as the tool message answering it."""
    error = item.get("error")
    result = item.get("output") if item.get("output") is not None else f"Error: {error}" if error else ""
    call_id = call_id_for(item.get("server_label") or "", item["name"], item["arguments"], result)
    call = {"id": call_id, "type": "function", "function": {"name": item["name"], "arguments": item["arguments"]}}
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


def _open_calls(history: list[dict]) -> list[dict]:
    """The history's last assistant message that called tools, when only tool messages follow it (a server-side
    tool may have answered some of its calls; the client answers the rest)."""
    for message in reversed(history):
        if message["role"] != "tool":
            return [message] if message.get("tool_calls") else []
    return []


def join_turn(history: list[dict], turn: list[dict]) -> list[dict]:
    """history + turn, with tool results for the history's last tool calls moved right after them, then checked.

    A chat model needs every assistant tool call answered by a tool message before anything else follows (OpenAI's
    Responses API says "No tool output found" otherwise, so do we, before any model is called).
    """
    pending = tool_call_ids(_open_calls(history))
    answers = [m for m in turn if m["role"] == "tool" and m["tool_call_id"] in pending]
    rest = [m for m in turn if not (m["role"] == "tool" and m["tool_call_id"] in pending)]
    messages = [*history, *answers, *rest]
    for index, message in enumerate(messages):
        if not message.get("tool_calls"):
            continue
        answered = set()
        for follower in messages[index + 1 :]:
            if follower["role"] != "tool":
                break
            answered.add(follower["tool_call_id"])
        for call in message["tool_calls"]:
            if call["id"] not in answered:
                raise _bad(
                    f"No tool output found for function call {call['id']}.", "input", "function_call_output_missing"
                )
    return messages


# ------------------------------------------------------------------------------------------ tools
def chat_tools(tools: list[dict]) -> list[dict]:
    out = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool["name"]}
        if tool["description"] is not None:
            function["description"] = tool["description"]
        function["parameters"] = tool["parameters"] if tool["parameters"] is not None else {"type": "object"}
        if tool["strict"] is not None:
            function["strict"] = tool["strict"]
        out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(
    tool_choice: str | Mapping | None, tools: list[dict], *, server_side: bool = False
) -> tuple[Any, list[dict], Any]:
    """(`tool_choice` as the response echoes it, the tools to send, the chat `tool_choice` to send or None).
    `server_side`: server-side tools will offer functions too (`auto`, `none` and `required` apply to them)."""
    if tool_choice is None:
        return "auto", tools, None
    if isinstance(tool_choice, str):
        return tool_choice, tools, tool_choice if tools or server_side else None
    if tool_choice["type"] == "function":
        return dict(tool_choice), tools, {"type": "function", "function": {"name": tool_choice["name"]}}
    chosen = {ref["name"] for ref in tool_choice["tools"]}
    return dict(tool_choice), [t for t in tools if t["name"] in chosen], tool_choice.get("mode", "auto")


# ------------------------------------------------------------------------------------------ text.format
def chat_response_format(text: Mapping | None) -> tuple[dict, dict | None]:
    """(`text` as the response echoes it, the chat `response_format` or None)."""
    if text is None:
        return {"format": {"type": "text"}, "verbosity": "medium"}, None
    fmt = text.get("format") or {"type": "text"}
    echo = {"format": dict(fmt), "verbosity": text.get("verbosity") or "medium"}
    if fmt["type"] == "text":
        return echo, None
    if fmt["type"] == "json_object":
        return echo, {"type": "json_object"}
    json_schema: dict[str, Any] = {"name": fmt["name"], "schema": fmt["schema"]}
    if fmt.get("description") is not None:
        json_schema["description"] = fmt["description"]
    if fmt.get("strict") is not None:
        json_schema["strict"] = fmt["strict"]
    return echo, {"type": "json_schema", "json_schema": json_schema}
