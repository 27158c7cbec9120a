"""Reads of stored responses.

Every read starts from `responses_visible`: the one place where the caller's principal will narrow the rows once
access control arrives, as a queryset filter in the same statement as the page it restricts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.paging import Page, check_page_args, list_page, model_page
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
