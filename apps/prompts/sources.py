"""Foreign prompt stores and formats, read into stackadmin archive entries (apps.prompts.transfer checks them).

Each reader returns raw archive entries, `{"prompt_id", "default", "labels", "versions": [...], "origin", "notes"}`,
in the shape of stackadmin's own export (apps.prompts.transfer), so that every source meets the same checks:

- OpenAI prompt objects (`openai`): the JSON of a prompt version, a list of them, or the `{"data": [...]}` list the
  prompts API returned. Ids (`pmpt_...`) and version numbers are kept, and the tools (function, web_search, mcp)
  without an MCP tool's headers/authorization (dropped with a note: secrets are never stored in prompts).
- Langfuse (`langfuse`): the bulk export (a JSON array of prompt rows, one per version, as Langfuse's
  `GET /api/public/prompts/export` and the Export button write them: `name`, `version`, `type`, `prompt`, `config`,
  `labels`, `tags`, `commitMessage`, `createdBy`, `createdAt`, ...), or the `{"prompts": [...]}` body its import
  takes. A prompt's id is derived from its name (the same name gives the same id, so importing again adds nothing).
- llama-stack 0.7 (`llama-stack`): its KV store (`kv_sqlite` file, or the `kv_postgres` table), keys
  `prompts:v1:{id}:{version}` (a JSON version record) and `prompts:v1:{id}:default` (the default version number).
- OGX 1.5 (`ogx`): its SQL prompts table (one row per version: `prompt_id`, `version`, `is_default`, `created_at`,
  `prompt_data` JSON with `prompt` and `variables`, `owner_principal`, `access_attributes`), from its SQLite file or
  a PostgreSQL URL. A deployment upgraded from 0.7 keeps its old prompts in the KV layout beside it: a database that
  holds both yields both.
Tables are found by their columns, not their names (both servers let the operator name them).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from apps.core.model_settings import SETTING_NAMES
from apps.prompts.templating import declarable

SQLITE_MAGIC = b"SQLite format 3\x00"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
STORE_SOURCES = ("llama-stack", "ogx")
SOURCES = ("stackadmin", "openai", "langfuse", *STORE_SOURCES)  # what `--from` names
LLAMA_STACK_PREFIX = "prompts:v1:"
LANGFUSE_REFERENCE = "@@@langfusePrompt:"


class SourceError(Exception):
    """A source that cannot be read: the message says what is wrong (the caller names the file)."""


# ------------------------------------------------------------------------------------------ detection
def is_postgres_url(path: str) -> bool:
    return path.startswith(POSTGRES_SCHEMES)


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _items(content: Any) -> Any:
    if isinstance(content, dict) and isinstance(content.get("data"), list):  # OpenAI's list envelope
        return content["data"]
    if isinstance(content, dict) and isinstance(content.get("prompts"), list) and "format" not in content:
        return content["prompts"]  # the body Langfuse's import takes
    return content if isinstance(content, list) else [content]


def detect(content: Any) -> str | None:
    """`openai` or `langfuse` from parsed JSON/YAML content's shape, else None."""
    items = _items(content)
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if all(str(i.get("id", "")).startswith("pmpt_") for i in items):
        return "openai"
    if all(isinstance(i.get("name"), str) and "prompt" in i for i in items):
        return "langfuse"
    return None


def _epoch(value: Any) -> float | None:
    """Seconds since the epoch from a number or an ISO 8601 time (Langfuse writes `2026-08-06T10:00:00.000Z`)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise SourceError(f"{value!r} is not a time") from None
    return None


def _whole_number(value: Any, what: str) -> int:
    number = str(value).strip()
    if isinstance(value, bool) or not number.isdigit() or int(number) < 1:
        raise SourceError(f"{what} {value!r} is not a whole number >= 1")
    return int(number)


# ------------------------------------------------------------------------------------------ OpenAI prompt objects
def openai_prompts(content: Any) -> list[dict]:
    """OpenAI prompt versions, grouped by id, as archive entries (versions keep their numbers)."""
    grouped: dict[str, list[dict]] = {}
    for index, item in enumerate(_items(content)):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise SourceError(f"item {index}: expected an OpenAI prompt object with an 'id'")
        grouped.setdefault(item["id"], []).append(item)
    return [_openai_prompt(prompt_id, objects) for prompt_id, objects in grouped.items()]


def _openai_prompt(prompt_id: str, objects: list[dict]) -> dict:
    try:
        numbered = sorted(((_whole_number(o.get("version", 1), "version"), o) for o in objects), key=lambda p: p[0])
    except SourceError as exc:
        raise SourceError(f"prompt {prompt_id}: {exc}") from None
    defaults = [number for number, o in numbered if o.get("is_default") is True]
    notes: list[str] = []
    return {
        "prompt_id": prompt_id,
        "default": defaults[-1] if defaults else numbered[-1][0],
        "versions": [_openai_content(number, o, f"version {number}", notes) for number, o in numbered],
        "notes": notes,
    }


def _openai_variables(variables: Any) -> Any:
    """OpenAI shows variables as a mapping of name to an example value, or as a list of names; only names stay."""
    if isinstance(variables, Mapping):
        return list(variables)
    if isinstance(variables, list):
        return [v.get("name") if isinstance(v, Mapping) else v for v in variables]
    return [] if variables is None else variables


# What an OpenAI prompt object's tool may carry that a stored version never holds (apps.core.model_settings refuses
# it): an MCP server's credentials. The app gives them at request time.
_SECRET_TOOL_FIELDS = {"mcp": ("headers", "authorization")}


def _openai_tools(tools: Any, where: str, notes: list[str]) -> Any:
    """The prompt's tools as given (web_search, mcp and function tools are all kept), without secrets: each one
    dropped is noted, since the app must now send it with its requests."""
    if not isinstance(tools, list):
        return tools
    kept = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        secret = [name for name in _SECRET_TOOL_FIELDS.get(kind, ()) if tool.get(name) is not None]
        if secret:
            tool = {name: value for name, value in tool.items() if name not in secret}
            notes.append(
                f"{where}: tools[{index}] ({tool.get('server_label')!r}): {', '.join(secret)} not imported "
                "(secrets are never stored in prompts; give them in each request's tools)"
            )
        kept.append(tool)
    return kept


def _openai_content(number: int, item: dict, where: str, notes: list[str]) -> dict:
    messages = item.get("messages", item.get("input"))
    instructions = item.get("instructions", item.get("prompt"))
    if isinstance(messages, list) and isinstance(instructions, str):
        messages = [{"role": "developer", "content": instructions}, *messages]
    created = item.get("created_at")
    return {
        "version": number,
        "prompt": None if messages is not None else instructions,
        "messages": messages,
        "variables": _openai_variables(item.get("variables")),
        "settings": {
            name: _openai_tools(item[name], where, notes) if name == "tools" else item[name]
            for name in SETTING_NAMES
            if item.get(name) is not None
        },
        "created_at": created if isinstance(created, int | float) and not isinstance(created, bool) else None,
        "created_by": item.get("created_by"),
        "message": item.get("description") or item.get("message"),
    }


# ------------------------------------------------------------------------------------------ Langfuse
def langfuse_prompt_id(name: str) -> str:
    """The stackadmin id of the Langfuse prompt `name`: the same name always gives the same id."""
    return "pmpt_" + hashlib.sha256(f"langfuse:{name}".encode()).hexdigest()[:48]


def langfuse_prompts(content: Any) -> list[dict]:
    """Langfuse prompt rows (one per version), grouped by name, as archive entries. Version numbers are kept; a
    version deleted in Langfuse (a gap in the numbers) becomes a deleted version, so the numbers still match."""
    grouped: dict[str, list[dict]] = {}
    for index, row in enumerate(_items(content)):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"]:
            raise SourceError(f"item {index}: expected a Langfuse prompt with a 'name'")
        grouped.setdefault(row["name"], []).append(row)
    return [_langfuse_prompt(name, rows) for name, rows in grouped.items()]


def _langfuse_prompt(name: str, rows: list[dict]) -> dict:
    where = f"Langfuse prompt {name!r}"
    try:
        numbered = {_whole_number(r.get("version", i), "version"): r for i, r in enumerate(rows, start=1)}
    except SourceError as exc:
        raise SourceError(f"{where}: {exc}") from None
    if len(numbered) != len(rows):
        raise SourceError(f"{where}: a version number appears twice")
    notes: list[str] = []
    versions, labels = [], {}
    for number in range(1, max(numbered) + 1):
        row = numbered.get(number)
        if row is None:
            versions.append({"version": number, "deleted": True})
            continue
        try:
            versions.append(_langfuse_version(number, row, notes))
        except SourceError as exc:
            raise SourceError(f"{where} version {number}: {exc}") from None
        labels.update({label: number for label in row.get("labels") or () if label != "latest"})
    live = sorted(numbered)
    return {
        "prompt_id": langfuse_prompt_id(name),
        "default": labels.get("production", live[-1]),
        "labels": labels,
        "versions": versions,
        "origin": where,
        "notes": notes,
    }


def _langfuse_version(number: int, row: dict, notes: list[str]) -> dict:
    body = row.get("prompt")
    kind = row.get("type") or ("chat" if isinstance(body, list) else "text")
    texts: list[str]
    if kind == "chat":
        messages = [_langfuse_message(m) for m in body] if isinstance(body, list) else body
        texts = [m["content"] for m in messages or () if isinstance(m, dict) and isinstance(m.get("content"), str)]
        prompt = None
    else:
        messages, prompt = None, body
        texts = [body] if isinstance(body, str) else []
    if any(LANGFUSE_REFERENCE in text for text in texts):
        raise SourceError(
            f"it includes another prompt ({LANGFUSE_REFERENCE}...@@@); export it from Langfuse with the references "
            "resolved"
        )
    settings = _langfuse_settings(row.get("config"), f"version {number}", notes)
    return {
        "version": number,
        "prompt": prompt,
        "messages": messages,
        "variables": list(dict.fromkeys(name for text in texts for name in declarable(text))),
        "settings": settings,
        "created_at": _epoch(row.get("createdAt")),
        "created_by": row.get("createdBy"),
        "message": row.get("commitMessage"),
    }


def _langfuse_message(message: Any) -> Any:
    if isinstance(message, dict) and message.get("type") == "placeholder":
        raise SourceError(
            f"message placeholder {message.get('name')!r} has no equivalent in an OpenAI-style prompt (put the "
            "messages in the request's input instead)"
        )
    if isinstance(message, dict) and message.get("type") == "chatmessage":
        return {k: v for k, v in message.items() if k != "type"}
    return message


_LANGFUSE_SETTING_ALIASES = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}


def _langfuse_settings(config: Any, where: str, notes: list[str]) -> dict:
    """Langfuse's free-form `config` as model settings: the names Responses takes (`max_tokens` read as
    `max_output_tokens`, a Chat Completions `response_format` as `text.format`, Chat Completions function tools
    flattened); anything else is left behind, with a note saying which keys."""
    if not isinstance(config, Mapping):
        return {}
    settings: dict[str, Any] = {}
    left: list[str] = []
    for key, value in config.items():
        name = _LANGFUSE_SETTING_ALIASES.get(key, key)
        if name == "response_format" and isinstance(value, Mapping):
            settings["text"] = {"format": _text_format(value)}
        elif name == "tools" and isinstance(value, list):
            settings["tools"] = [_flat_tool(t) for t in value]
        elif name in SETTING_NAMES:
            settings[name] = value
        else:
            left.append(key)
    if left:
        notes.append(f"{where}: config keys not carried over (not model settings): {', '.join(sorted(left))}")
    return settings


def _text_format(response_format: Mapping) -> dict:
    schema = response_format.get("json_schema")
    if response_format.get("type") == "json_schema" and isinstance(schema, Mapping):
        return {"type": "json_schema", **schema}
    return dict(response_format)


def _flat_tool(tool: Any) -> Any:
    """A Chat Completions tool `{"type": "function", "function": {...}}` as a Responses tool."""
    if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping):
        return {"type": "function", **tool["function"]}
    return tool


# ------------------------------------------------------------------------------------------ llama-stack / OGX stores
def _kv_prompts(rows: Iterable[tuple[str, str]]) -> list[dict]:
    """llama-stack 0.7's KV prompt records (`prompts:v1:{id}:{version}` and `:default`) as archive entries."""
    versions: dict[str, dict[int, dict]] = {}
    defaults: dict[str, int] = {}
    for key, value in rows:
        prompt_id, _, tail = key.removeprefix(LLAMA_STACK_PREFIX).rpartition(":")
        if tail == "default":
            defaults[prompt_id] = _whole_number(value, f"{key}:")
            continue
        try:
            record = json.loads(value)
        except (TypeError, json.JSONDecodeError):
            raise SourceError(f"{key}: not a JSON version record") from None
        if not isinstance(record, dict):
            raise SourceError(f"{key}: not a JSON version record")
        versions.setdefault(prompt_id, {})[_whole_number(tail, f"{key}: version")] = record
    return [
        _store_prompt(prompt_id, numbered, defaults.get(prompt_id), "llama-stack 0.7 KV store")
        for prompt_id, numbered in sorted(versions.items())
    ]


def _ogx_prompts(rows: Iterable[tuple]) -> list[dict]:
    """OGX 1.5's prompt rows (prompt_id, version, is_default, created_at, prompt_data, owner, attributes)."""
    versions: dict[str, dict[int, dict]] = {}
    defaults: dict[str, int] = {}
    for prompt_id, version, is_default, created_at, data, owner, attributes in rows:
        number = _whole_number(version, f"{prompt_id}: version")
        data = json.loads(data) if isinstance(data, str) else data
        attributes = json.loads(attributes) if isinstance(attributes, str) else attributes
        if not isinstance(data, dict):
            raise SourceError(f"{prompt_id} version {number}: prompt_data is not a JSON object")
        versions.setdefault(prompt_id, {})[number] = {
            **data,
            "created_at": created_at,
            "owner_principal": owner,
            "access_attributes": attributes,
        }
        if is_default:
            defaults[prompt_id] = number
    return [
        _store_prompt(prompt_id, numbered, defaults.get(prompt_id), "OGX 1.5 prompts table")
        for prompt_id, numbered in sorted(versions.items())
    ]


def _store_prompt(prompt_id: str, numbered: dict[int, dict], default: int | None, origin: str) -> dict:
    """One llama-stack/OGX prompt: text versions with declared variables; the default as the store has it."""
    ordered = [numbered[n] for n in sorted(numbered)]
    first = ordered[0]
    attributes = first.get("access_attributes")
    return {
        "prompt_id": prompt_id,
        "default": default or max(numbered),
        "owner_principal": first.get("owner_principal") or "",
        "access_attributes": attributes if isinstance(attributes, dict) and attributes else None,
        "versions": [
            {
                "version": number,
                "prompt": record.get("prompt"),
                "variables": record.get("variables") or [],
                "created_at": _epoch(record.get("created_at")),
            }
            for number, record in sorted(numbered.items())
        ],
        "origin": origin,
    }


_KV_QUERY = "SELECT key, value FROM {table} WHERE key LIKE 'prompts:v1:%' ORDER BY key"
_OGX_COLUMNS = ("prompt_id", "version", "is_default", "created_at", "prompt_data", "owner_principal")
_OGX_QUERY = (
    "SELECT prompt_id, version, is_default, created_at, prompt_data, owner_principal, {attributes} "
    "FROM {table} ORDER BY prompt_id, version"
)


def _layouts(tables: Mapping[str, set[str]]) -> tuple[list[str], list[str]]:
    """(KV tables, OGX prompt tables) among `tables` (name -> its columns)."""
    kv = [name for name, columns in tables.items() if {"key", "value"} <= columns]
    ogx = [name for name, columns in tables.items() if set(_OGX_COLUMNS) <= columns]
    return sorted(kv), sorted(ogx)


_LAYOUT_NAMES = {
    "llama-stack": "llama-stack KV table (key, value)",
    "ogx": "OGX prompts table (prompt_id, version, prompt_data, ...)",
    None: "llama-stack KV table (key, value) or OGX prompts table (prompt_id, version, prompt_data, ...)",
}


def _wanted(kind: str | None, kv: list[str], ogx: list[str]) -> tuple[list[str], list[str]]:
    kv, ogx = (kv if kind in (None, "llama-stack") else []), (ogx if kind in (None, "ogx") else [])
    if not kv and not ogx:
        raise SourceError(f"holds no {_LAYOUT_NAMES.get(kind, _LAYOUT_NAMES[None])}")
    return kv, ogx


def sqlite_prompts(path: Path, kind: str | None = None) -> list[dict]:
    """The prompts of a llama-stack/OGX SQLite file (read only; the file is never written)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"cannot open as SQLite: {exc}") from None
    try:
        db.execute("PRAGMA trusted_schema = OFF")  # an uploaded file's schema runs no function of its choosing
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
            )
        ]
        tables = {n: {r[1] for r in db.execute(f'PRAGMA table_info("{n}")')} for n in names if '"' not in n}
        kv, ogx = _wanted(kind, *_layouts(tables))
        found = []
        for table in kv:
            found += _kv_prompts(db.execute(_KV_QUERY.format(table=f'"{table}"')))
        for table in ogx:
            attributes = "access_attributes" if "access_attributes" in tables[table] else "NULL"
            found += _ogx_prompts(db.execute(_OGX_QUERY.format(table=f'"{table}"', attributes=attributes)))
        return found
    except sqlite3.Error as exc:
        raise SourceError(f"cannot read as SQLite: {exc}") from None
    finally:
        db.close()


def postgres_prompts(url: str, kind: str | None = None) -> list[dict]:
    """The prompts of a llama-stack `kv_postgres` table and/or OGX `sql_postgres` prompts table, read in one
    read-only transaction."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=False) as db:
            db.read_only = True
            rows = db.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            tables: dict[str, set[str]] = {}
            qualified: dict[str, tuple[str, str]] = {}
            for schema, table, column in rows:
                tables.setdefault(f"{schema}.{table}", set()).add(column)
                qualified[f"{schema}.{table}"] = (schema, table)
            kv, ogx = _wanted(kind, *_layouts(tables))
            found = []
            for name in kv:
                query = sql.SQL(_KV_QUERY).format(table=sql.Identifier(*qualified[name]))
                found += _kv_prompts(db.execute(query))
            for name in ogx:
                attributes = sql.Identifier("access_attributes") if "access_attributes" in tables[name] else sql.NULL
                query = sql.SQL(_OGX_QUERY).format(table=sql.Identifier(*qualified[name]), attributes=attributes)
                found += _ogx_prompts(db.execute(query))
            return found
    except psycopg.Error as exc:
        raise SourceError(f"cannot read from PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
