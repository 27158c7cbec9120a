"""Reads of stored responses.

Every read starts from `responses_visible`: the one place where the caller's principal will narrow the rows once
access control arrives, as a queryset filter in the same statement as the page it restricts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.paging import Page, check_page_args, keyset_page, list_page, model_page
from apps.core.principal import ANONYMOUS, Principal
from apps.responses.models import ResponseOrigin, ResponseStatus, StoredResponse
from apps.responses.schemas import InputItemListQuery, ResponseListQuery
from apps.responses.usage import PromptUsage as PromptUsage
from apps.responses.usage import UsageFilter as UsageFilter
from apps.responses.usage import prompt_usage as prompt_usage
from apps.responses.usage import prompts_daily_requests as prompts_daily_requests


def response_not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"Response with id '{response_id}' not found. Use 'client.responses.list()' to list stored responses.",
        param="response_id",
    )


def responses_visible(*, principal: Principal = ANONYMOUS) -> QuerySet[StoredResponse]:
    """Responses the principal may read under the access policy, filtered in the query itself."""
    return StoredResponse.objects.visible_to(principal)


def response_get(*, response_id: str, principal: Principal = ANONYMOUS) -> StoredResponse:
    """The response (its object, status and owner; not the messages and input items, which reads of it do not
    need and which a poll of a background response would decode every time)."""
    return (
        responses_visible(principal=principal)
        .defer("messages", "input_items")
        .get_by_id(response_id, missing=response_not_found)
    )


def response_json(*, response_id: str, principal: Principal = ANONYMOUS) -> bytes:
    """The response object as the store holds it, JSON sent as it is (`GET /v1/responses/{id}`, which a client
    following a background response calls again and again): one query on the unique id, and no decoding and
    encoding of the object again (`bench/background_overhead.py`)."""
    text = (
        responses_visible(principal=principal)
        .filter(public_id=response_id)
        .annotate(text=Cast("response", TextField()))
        .values_list("text", flat=True)
        .first()
    )
    if text is None:
        raise response_not_found(response_id)
    return text.encode()


def response_for_resume(*, response_id: str, principal: Principal = ANONYMOUS) -> StoredResponse:
    """The response a `previous_response_id` names; OpenAI answers a 400 when there is none."""
    row = (
        responses_visible(principal=principal)
        .filter(public_id=response_id)
        .only("public_id", "status", "messages", "input_items", "response")
        .first()
    )
    if row is None:
        raise BadRequestError(
            f"Previous response with id '{response_id}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    if row.status not in (ResponseStatus.COMPLETED, ResponseStatus.INCOMPLETE):
        raise BadRequestError(
            f"Previous response with id '{response_id}' is {row.status}; only a completed or incomplete response "
            "can be continued.",
            param="previous_response_id",
            code="invalid_previous_response",
        )
    return row


def response_list(*, query: ResponseListQuery, principal: Principal = ANONYMOUS) -> Page:
    return model_page(responses_visible(principal=principal).defer("messages"), **query.model_dump())


@dataclass(frozen=True)
class ResponseFilter:
    """What the dashboard's list of responses narrows to; empty fields do not narrow."""

    prompt_id: str = ""
    prompt_version: int | None = None
    model: str = ""
    status: str = ""
    origin: str = ""
    tool_calls: bool | None = None  # True: with tool calls; False: without


# What a row of the list shows: the stored objects (response, input items, messages) are left in the database.
LIST_COLUMNS = (
    "public_id",
    "created_at",
    "model",
    "status",
    "prompt_id",
    "prompt_version",
    "origin",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "tool_calls",
    "owner_principal",
)


def responses_filtered(*, filters: ResponseFilter, after: str | None, limit: int, principal: Principal) -> Page:
    """A page of the responses the principal may read, newest first, narrowed by `filters` (`after`: the last
    response of the page before). One query (two when paging on), whatever the page size."""
    rows = responses_visible(principal=principal).only(*LIST_COLUMNS)
    narrowing = {
        "prompt_id": filters.prompt_id,
        "prompt_version": filters.prompt_version,
        "model": filters.model,
        "status": filters.status,
        "origin": filters.origin,
    }
    rows = rows.filter(**{name: value for name, value in narrowing.items() if value not in ("", None)})
    if filters.tool_calls is not None:
        rows = rows.filter(tool_calls__gt=0) if filters.tool_calls else rows.filter(tool_calls=0)
    return keyset_page(rows, after=after, limit=limit, order="desc")


def response_detail(*, response_id: str, principal: Principal = ANONYMOUS) -> StoredResponse:
    """The stored response (object and columns) for a page that shows it; its input items are read as
    `GET /v1/responses/{id}/input_items` reads them (`response_input_items_list`), its chat messages not at all."""
    return (
        responses_visible(principal=principal)
        .defer("messages", "input_items")
        .get_by_id(response_id, missing=response_not_found)
    )


def response_input_items_list(*, response_id: str, query: InputItemListQuery, principal: Principal = ANONYMOUS) -> Page:
    """Everything the model received as input: the items of the previous response's chain or of the conversation,
    then the response's own input items, as given (ids filled in)."""
    check_page_args(query.limit, query.order)
    row = (
        responses_visible(principal=principal).filter(public_id=response_id).values_list("input_items", flat=True)
    ).first()
    if row is None:
        raise response_not_found(response_id)
    return list_page(
        row,
        after=query.after,
        before=query.before,
        limit=query.limit,
        order=query.order,
        noun="input item",
        within=f"response '{response_id}'",
    )


def response_object(row: StoredResponse, *, with_input: bool = False) -> dict:
    body = dict(row.response)
    if with_input:
        body["input"] = row.input_items
    return body


def response_output_text(response: dict) -> str:
    """The text of a response's message output: what the playground shows and a replay compares."""
    return "".join(
        part.get("text", "")
        for item in response.get("output") or ()
        if item.get("type") == "message"
        for part in item.get("content") or ()
        if part.get("type") == "output_text"
    )


def playground_run_get(*, prompt_id: str, run_id: str, principal: Principal = ANONYMOUS) -> dict | None:
    """The stored response of a dashboard playground run (its `metadata.playground_run`), if it was stored."""
    row = (
        responses_visible(principal=principal)
        .filter(prompt_id=prompt_id, origin=ResponseOrigin.PLAYGROUND, response__metadata__playground_run=run_id)
        .only("response")
        .first()
    )
    return row.response if row is not None else None


# ------------------------------------------------------------------------------------------ tool items, readably
@dataclass(frozen=True)
class ToolActivity:
    """One tool item of a response, as an operator reads it: what ran where, with what, and how it ended."""

    kind: str  # "list tools", "call", "approval asked", "approval", "function call", "web search", ...
    server: str
    name: str
    detail: str  # the arguments, or the tools listed
    outcome: str  # the output, the error, or what is pending
    failed: bool


def _error_text(error) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("content") or error)
    return str(error)


def _listing(item: dict) -> ToolActivity:
    listed = ", ".join(tool.get("name", "") for tool in item.get("tools") or ())
    error = item.get("error")
    outcome = f"error: {error}" if error else "listed"
    return ToolActivity("list tools", item.get("server_label") or "", "", listed, outcome, bool(error))


def _mcp_call(item: dict) -> ToolActivity:
    error = item.get("error")
    outcome = f"error: {_error_text(error)}" if error else str(item.get("output") or "")
    server, name, arguments = item.get("server_label") or "", item.get("name") or "", item.get("arguments") or ""
    return ToolActivity("call", server, name, arguments, outcome, bool(error))


def _approval_request(item: dict) -> ToolActivity:
    server, name, arguments = item.get("server_label") or "", item.get("name") or "", item.get("arguments") or ""
    return ToolActivity("approval asked", server, name, arguments, "waiting for approval", False)


def _approval(item: dict) -> ToolActivity:
    approved = "approved" if item.get("approve") else "declined"
    return ToolActivity("approval", "", "", item.get("approval_request_id") or "", approved, False)


def _function_call(item: dict) -> ToolActivity:
    arguments = item.get("arguments") or ""
    return ToolActivity("function call", "", item.get("name") or "", arguments, "left to the client", False)


def _web_search(item: dict) -> ToolActivity:
    action = item.get("action") or {}
    status = str(item.get("status") or "")
    sources = action.get("sources")
    outcome = f"{status}: {len(sources)} sources" if isinstance(sources, list) else status
    return ToolActivity("web search", "", "", str(action.get("query") or ""), outcome, status == "failed")


_ACTIVITIES = {
    "mcp_list_tools": _listing,
    "mcp_call": _mcp_call,
    "mcp_approval_request": _approval_request,
    "mcp_approval_response": _approval,
    "function_call": _function_call,
    "web_search_call": _web_search,
}


def _activity(item: dict) -> ToolActivity | None:
    kind = str(item.get("type") or "")
    if kind in _ACTIVITIES:
        return _ACTIVITIES[kind](item)
    if kind.endswith("_call"):  # another server-side tool (web search, ...): what it was and how it ended
        return ToolActivity(kind.removesuffix("_call").replace("_", " "), "", "", "", item.get("status") or "", False)
    return None


def tool_activity(*, items: list[dict]) -> list[ToolActivity]:
    """The tool items among `items` (a stored response's input or output), oldest first."""
    return [activity for item in items if isinstance(item, dict) and (activity := _activity(item)) is not None]


# ------------------------------------------------------------------------------------------ items, for a page
def _pretty(value: object) -> str:
    """JSON given as text (tool arguments) indented; anything else that is not text, as indented JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if isinstance(value, str):
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _web_url(url: object) -> str:
    """`url` when a browser may follow it from our page (http or https), else "" (shown as text only)."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else ""


def _links(pairs: list[tuple[object, object]]) -> list[dict]:
    return [{"url": str(url or ""), "href": _web_url(url), "title": str(title or url or "")} for url, title in pairs]


def _message_parts(content: object) -> list[dict]:
    """A message's content as parts of text (with their cited links) or of another kind (images, files)."""
    if isinstance(content, str):
        return [{"text": content, "links": []}]
    parts = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if "text" in part or "refusal" in part:
            notes = [a for a in part.get("annotations") or () if isinstance(a, dict)]
            links = _links([(a.get("url"), a.get("title")) for a in notes if a.get("type") == "url_citation"])
            parts.append({"text": str(part.get("text") or part.get("refusal") or ""), "links": links})
        else:
            parts.append({"other": str(part.get("type") or "part"), "json": _pretty(part)})
    return parts


def _text_list(parts: object) -> str:
    if not isinstance(parts, list):
        return ""
    return "\n\n".join(str(p.get("text") or "") for p in parts if isinstance(p, dict))


def _sources(item: dict) -> list[dict]:
    sources = (item.get("action") or {}).get("sources")
    if not isinstance(sources, list):
        return []
    return _links([(s.get("url"), s.get("title")) for s in sources if isinstance(s, dict)])


def _reasoning_text(item: dict) -> str:
    text = "\n\n".join(t for t in (_text_list(item.get("summary")), _text_list(item.get("content"))) if t)
    return text or ("(encrypted)" if item.get("encrypted_content") else "")


def _message(item: dict) -> dict:
    return {"role": str(item.get("role") or ""), "parts": _message_parts(item.get("content"))}


def _call(item: dict) -> dict:
    return {"arguments": _pretty(item.get("arguments") or ""), "error": _error_text(item.get("error") or "")}


def _call_output(item: dict) -> dict:
    return {"output": _pretty(item.get("output") or "")}


def _tools_listed(item: dict) -> dict:
    names = [str(tool.get("name") or "") for tool in item.get("tools") or () if isinstance(tool, dict)]
    return {"tool_names": names, "error": _error_text(item.get("error") or "")}


def _search(item: dict) -> dict:
    return {"query": str((item.get("action") or {}).get("query") or ""), "sources": _sources(item)}


# What a page shows of each item type it knows, besides the item's own fields; other types are shown as JSON.
_ITEM_FIELDS = {
    "message": _message,
    "function_call": _call,
    "mcp_call": _call,
    "mcp_approval_request": _call,
    "function_call_output": _call_output,
    "mcp_list_tools": _tools_listed,
    "mcp_approval_response": lambda item: {},
    "web_search_call": _search,
    "reasoning": lambda item: {"text": _reasoning_text(item)},
    "compaction": lambda item: {"text": "(compacted history, encrypted)"},
}


def item_views(*, items: list) -> list[dict]:
    """Input or output items as a page reads them: each item's own fields (`item`) and what is worked out of them
    (`kind`, `view`): pretty-printed arguments, cited links safe to follow, names of listed tools. An item of a
    type not known here keeps `kind` "unknown" and is shown as its JSON."""
    views = []
    for item in items:
        if not isinstance(item, dict):
            views.append({"kind": "unknown", "item": {}, "view": {}, "json": _pretty(item)})
            continue
        kind = str(item.get("type") or ("message" if "role" in item else ""))
        if kind in _ITEM_FIELDS:
            views.append({"kind": kind, "item": item, "view": _ITEM_FIELDS[kind](item), "json": ""})
        else:
            views.append({"kind": "unknown", "type": kind, "item": item, "view": {}, "json": _pretty(item)})
    return views
