"""Responses items <-> chat messages, and the checks on `input`, `tools`, `tool_choice` and `text.format`.

A response is computed by one chat-completion call. Its input items become chat messages: messages by role
(`developer` is sent as `system`, which every OpenAI-compatible server knows), consecutive `function_call` items
one assistant message carrying all those tool calls, each `function_call_output` a `tool` message. The messages
of earlier turns are not rebuilt from items but taken as stored (see apps.responses.models), so tool calls
survive multi-turn exactly.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from apps.conversations.items import normalize_item
from apps.core.errors import BadRequestError

FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Items that describe work of built-in tools or reasoning: nothing a chat model can be sent, so they are skipped.
_SKIPPED_TYPES = {"reasoning", "web_search_call", "file_search_call", "mcp_list_tools", "image_generation_call"}


def new_output_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(24)}"


def _bad(message: str, param: str, code: str = "invalid_value") -> BadRequestError:
    return BadRequestError(message, param=param, code=code)


# ------------------------------------------------------------------------------------------ input
def normalize_input(raw: Any) -> list[dict]:
    """The input items to store: a string becomes one user message; items keep their fields, ids filled in."""
    if isinstance(raw, str):
        return [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": raw}],
                "id": new_output_id("msg"),
            }
        ]
    if not isinstance(raw, list):
        raise _bad("Invalid value for 'input': expected a string or an array of input items.", "input")
    items = [normalize_item(item, param=f"input[{index}]") for index, item in enumerate(raw)]
    for index, item in enumerate(items):
        if (
            item["type"] not in ("message", "function_call", "function_call_output")
            and item["type"] not in _SKIPPED_TYPES
        ):
            raise _bad(
                f"Invalid value for 'input[{index}].type': {item['type']!r} items are not supported by stackadmin's "
                "Responses API (supported: message, function_call, function_call_output, reasoning).",
                f"input[{index}].type",
            )
    return items


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


def tool_call_ids(messages: list[dict]) -> set[str]:
    return {call.get("id") for m in messages for call in (m.get("tool_calls") or ()) if isinstance(call, dict)}


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
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str):
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            calls.add(item["call_id"])
        elif kind == "function_call_output":
            if item["call_id"] not in calls:
                raise _bad(
                    f"No tool call found for function call output with call_id {item['call_id']}.",
                    f"{where}.call_id",
                    "function_call_not_found",
                )
            messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": _output_text(item["output"])})
    return messages


def join_turn(history: list[dict], turn: list[dict]) -> list[dict]:
    """history + turn, with tool results for the history's last tool calls moved right after them, then checked.

    A chat model needs every assistant tool call answered by a tool message before anything else follows (OpenAI's
    Responses API says "No tool output found" otherwise, so do we, before any model is called).
    """
    pending = tool_call_ids(history[-1:]) if history and history[-1].get("tool_calls") else set()
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
def _check_schema(schema: Any, param: str) -> None:
    if not isinstance(schema, Mapping):
        raise _bad(f"Invalid value for '{param}': expected a JSON Schema object.", param, "invalid_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise _bad(
            f"Invalid schema for '{param}'{f' at {where}' if where else ''}: {exc.message}.", param, "invalid_schema"
        ) from None


def _check_strict(schema: Mapping, param: str, path: str = "") -> None:
    """OpenAI's strict mode: every object closes `additionalProperties` and requires all of its properties."""
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties", True) is not False:
            raise _bad(
                f"Invalid schema for '{param}': in strict mode 'additionalProperties' must be false "
                f"(at {path or 'the root'}).",
                param,
                "invalid_schema",
            )
        missing = sorted(set(props) - set(schema.get("required") or ()))
        if missing:
            raise _bad(
                f"Invalid schema for '{param}': in strict mode 'required' must list every property; "
                f"missing {', '.join(missing)} (at {path or 'the root'}).",
                param,
                "invalid_schema",
            )
        for name, sub in props.items():
            if isinstance(sub, Mapping):
                _check_strict(sub, param, f"{path}.properties.{name}" if path else f"properties.{name}")
    items = schema.get("items")
    if isinstance(items, Mapping):
        _check_strict(items, param, f"{path}.items" if path else "items")
    for key in ("anyOf", "$defs", "definitions"):
        nested = schema.get(key)
        subs = nested.values() if isinstance(nested, Mapping) else nested if isinstance(nested, list) else ()
        for sub in subs:
            if isinstance(sub, Mapping):
                _check_strict(sub, param, f"{path}.{key}" if path else key)


def check_tools(tools: Any) -> list[dict]:
    """Function tools as echoed on the response; anything else is a 400 naming the offending tool."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _bad("Invalid value for 'tools': expected an array of tools.", "tools")
    checked: list[dict] = []
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, Mapping):
            raise _bad(f"Invalid value for '{where}': expected a tool object.", where)
        kind = tool.get("type")
        if kind != "function":
            raise _bad(
                f"Invalid value for '{where}.type': {kind!r} tools are not supported by stackadmin; "
                "only 'function' tools (run by the client) are.",
                f"{where}.type",
                "unsupported_tool",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
            raise _bad(
                f"Invalid value for '{where}.name': {name!r}; function names are 1-64 letters, digits, '_' or '-'.",
                f"{where}.name",
                "missing_required_parameter" if name is None else "invalid_value",
            )
        if name in names:
            raise _bad(f"Invalid value for '{where}.name': the function {name!r} is declared twice.", f"{where}.name")
        names.add(name)
        parameters = tool.get("parameters")
        if parameters is not None:
            _check_schema(parameters, f"{where}.parameters")
            if parameters.get("type", "object") != "object":
                raise _bad(
                    f"Invalid schema for '{where}.parameters': the parameters of a function are an object "
                    f"(type 'object'), not {parameters.get('type')!r}.",
                    f"{where}.parameters",
                    "invalid_schema",
                )
        strict = tool.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _bad(f"Invalid value for '{where}.strict': expected true or false.", f"{where}.strict")
        if strict and parameters is not None:
            _check_strict(parameters, f"{where}.parameters")
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad(f"Invalid value for '{where}.description': expected a string.", f"{where}.description")
        checked.append(
            {"type": "function", "name": name, "description": description, "parameters": parameters, "strict": strict}
        )
    return checked


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


def check_tool_choice(tool_choice: Any, tools: list[dict]) -> tuple[Any, list[dict], Any]:
    """(echo, tools to send, chat tool_choice to send or None)."""
    names = {t["name"] for t in tools}
    if tool_choice is None:
        return "auto", tools, None
    if tool_choice in ("auto", "none", "required"):
        if tool_choice == "required" and not tools:
            raise _bad("Invalid value for 'tool_choice': 'required' needs at least one tool in 'tools'.", "tool_choice")
        return tool_choice, tools, tool_choice if tools else None
    if isinstance(tool_choice, Mapping):
        kind = tool_choice.get("type")
        if kind == "function":
            name = tool_choice.get("name")
            if name not in names:
                raise _bad(
                    f"Invalid value for 'tool_choice.name': {name!r} is not a function in 'tools'.", "tool_choice.name"
                )
            return dict(tool_choice), tools, {"type": "function", "function": {"name": name}}
        if kind == "allowed_tools":
            mode = tool_choice.get("mode", "auto")
            allowed = tool_choice.get("tools")
            if mode not in ("auto", "required") or not isinstance(allowed, list) or not allowed:
                raise _bad(
                    "Invalid value for 'tool_choice': allowed_tools needs mode 'auto' or 'required' and a non-empty "
                    "'tools' array.",
                    "tool_choice",
                )
            chosen = set()
            for index, ref in enumerate(allowed):
                name = ref.get("name") if isinstance(ref, Mapping) else None
                if name not in names:
                    raise _bad(
                        f"Invalid value for 'tool_choice.tools[{index}]': {name!r} is not a function in 'tools'.",
                        f"tool_choice.tools[{index}]",
                    )
                chosen.add(name)
            return dict(tool_choice), [t for t in tools if t["name"] in chosen], mode
    raise _bad(
        f"Invalid value for 'tool_choice': {tool_choice!r}; expected 'auto', 'none', 'required', "
        "{type: 'function', name} or {type: 'allowed_tools', mode, tools}.",
        "tool_choice",
    )


# ------------------------------------------------------------------------------------------ text.format
def check_text(text: Any) -> tuple[dict, dict | None]:
    """(echoed `text`, chat `response_format` or None)."""
    if text is None:
        return {"format": {"type": "text"}, "verbosity": "medium"}, None
    if not isinstance(text, Mapping):
        raise _bad("Invalid value for 'text': expected an object with 'format'.", "text")
    verbosity = text.get("verbosity") or "medium"
    if verbosity not in ("low", "medium", "high"):
        raise _bad(
            f"Invalid value for 'text.verbosity': {verbosity!r}; expected low, medium or high.", "text.verbosity"
        )
    fmt = text.get("format") or {"type": "text"}
    if not isinstance(fmt, Mapping):
        raise _bad("Invalid value for 'text.format': expected an object with a 'type'.", "text.format")
    kind = fmt.get("type")
    echo = {"format": dict(fmt), "verbosity": verbosity}
    if kind == "text":
        return echo, None
    if kind == "json_object":
        return echo, {"type": "json_object"}
    if kind != "json_schema":
        raise _bad(
            f"Invalid value for 'text.format.type': {kind!r}; expected text, json_object or json_schema.",
            "text.format.type",
        )
    name = fmt.get("name")
    if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
        raise _bad(
            f"Invalid value for 'text.format.name': {name!r}; a schema name is 1-64 letters, digits, '_' or '-'.",
            "text.format.name",
        )
    schema = fmt.get("schema")
    if schema is None:
        raise _bad(
            "Missing required parameter: 'text.format.schema'.", "text.format.schema", "missing_required_parameter"
        )
    _check_schema(schema, "text.format.schema")
    if schema.get("type") != "object":
        raise _bad(
            "Invalid schema for 'text.format.schema': the root of a response format schema must be of type 'object'.",
            "text.format.schema",
            "invalid_schema",
        )
    strict = fmt.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise _bad("Invalid value for 'text.format.strict': expected true or false.", "text.format.strict")
    if strict:
        _check_strict(schema, "text.format.schema")
    json_schema: dict[str, Any] = {"name": name, "schema": schema}
    if fmt.get("description") is not None:
        json_schema["description"] = fmt["description"]
    if strict is not None:
        json_schema["strict"] = strict
    return echo, {"type": "json_schema", "json_schema": json_schema}
