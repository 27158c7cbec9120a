"""The dashboard's stored responses (read through apps.responses.selectors, under the access policy): a list the
user may read, newest first and filtered; a response's page with its input and output items shown by type (tool
calls and their results, approvals, web searches, cited links) rather than as JSON.

A background response still queued or running polls its own region every 2 seconds until it ends; without
JavaScript the page has a Refresh link. The same conventions as apps.prompts.views: each swappable region is a
named partial whose name is its element id, and every control is a plain link or form too.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.errors import NotFoundError
from apps.prompts.forms import ResponseFilterForm
from apps.prompts.views import _principal, _render, dashboard_view, filtered_page
from apps.responses import selectors
from apps.responses.models import ResponseStatus
from apps.responses.schemas import InputItemListQuery

PAGE_SIZE = 50
# How many input items a response's page shows (the API's largest page); the rest are a link to the API away.
INPUT_ITEMS_SHOWN = 100
RUNNING = (ResponseStatus.QUEUED, ResponseStatus.IN_PROGRESS)


@dashboard_view
@require_GET
def response_list(request: HttpRequest) -> HttpResponse:
    """The stored responses the user may read, newest first, 50 a page (`after`: the last one of the page before),
    filtered by prompt (and version), model, status, origin and whether tools were called."""
    principal = _principal(request)
    context, page = filtered_page(
        request,
        ResponseFilterForm(request.GET),
        nav="responses",
        fetch=lambda filters, after: selectors.responses_filtered(
            filters=filters, after=after, limit=PAGE_SIZE, principal=principal
        ),
    )
    if page is None:
        return _render(request, "responses/response_list.html", context, partials=("response-list",), status=400)
    form = context["form"]
    context.update(
        rows=page.data,
        has_more=page.has_more,
        last_id=page.last_id,
        filtered=any(value not in ("", None) for value in form.cleaned_data.values()),
    )
    return _render(request, "responses/response_list.html", context, partials=("response-list",))


@dashboard_view
@require_GET
def response_detail(request: HttpRequest, response_id: str) -> HttpResponse:
    """One response: what it is, what it was given (the input items as `GET /v1/responses/{id}/input_items` lists
    them: the history, then its own input) and what it answered, item by item."""
    principal = _principal(request)
    try:
        row = selectors.response_detail(response_id=response_id, principal=principal)
        inputs = selectors.response_input_items_list(
            response_id=response_id,
            query=InputItemListQuery(limit=INPUT_ITEMS_SHOWN, order="asc"),
            principal=principal,
        )
    except NotFoundError as exc:
        context = {"response_id": response_id, "reason": exc.message, "nav": "responses"}
        return render(request, "responses/response_missing.html", context, status=404)
    body = row.response or {}
    context = {
        "row": row,
        "body": body,
        "usage": body.get("usage") or {},
        "error": body.get("error"),
        "running": row.status in RUNNING,
        "inputs": selectors.item_views(items=inputs.data),
        "more_inputs": inputs.has_more,
        "outputs": selectors.item_views(items=body.get("output") or []),
        "nav": "responses",
    }
    return _render(request, "responses/response_detail.html", context, partials=("response-body",))
