"""Reads of stored responses.

Every read starts from `responses_visible`: the one place where the caller's principal will narrow the rows once
access control arrives, as a queryset filter in the same statement as the page it restricts.
"""

from __future__ import annotations

from typing import Literal

from django.db.models import QuerySet

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.paging import Page, check_page_args, keyset_page
from apps.core.principal import ANONYMOUS, Principal
from apps.responses.models import ResponseStatus, StoredResponse

DEFAULT_PAGE_SIZE = 50
DEFAULT_ITEMS_PAGE_SIZE = 20
Order = Literal["asc", "desc"]


def response_not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"Response with id '{response_id}' not found. Use 'client.responses.list()' to list stored responses.",
        param="response_id",
    )


def responses_visible(*, principal: Principal = ANONYMOUS) -> QuerySet[StoredResponse]:
    """Responses the principal may read under the access policy, filtered in the query itself."""
    return StoredResponse.objects.visible_to(principal)


def response_get(*, response_id: str, principal: Principal = ANONYMOUS) -> StoredResponse:
    row = responses_visible(principal=principal).filter(public_id=response_id).first()
    if row is None:
        raise response_not_found(response_id)
    return row


def response_for_resume(*, response_id: str, principal: Principal = ANONYMOUS) -> StoredResponse:
    """The response a `previous_response_id` names; OpenAI answers a 400 when there is none."""
    row = (
        responses_visible(principal=principal)
        .filter(public_id=response_id)
        .only("public_id", "status", "messages")
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


def response_list(
    *,
    after: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    model: str | None = None,
    order: Order = "desc",
    principal: Principal = ANONYMOUS,
) -> Page:
    check_page_args(limit, order)
    rows = responses_visible(principal=principal).defer("messages")
    if model:
        rows = rows.filter(model=model)
    return keyset_page(rows, after=after, limit=limit, order=order)


def response_input_items_list(
    *,
    response_id: str,
    after: str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_ITEMS_PAGE_SIZE,
    order: Order = "desc",
    principal: Principal = ANONYMOUS,
) -> Page:
    """This response's input items; `after`/`before` are item ids of the list in the requested order."""
    check_page_args(limit, order)
    row = (
        responses_visible(principal=principal).filter(public_id=response_id).values_list("input_items", flat=True)
    ).first()
    if row is None:
        raise response_not_found(response_id)
    items = list(row)
    if order == "desc":
        items.reverse()
    ids = [item.get("id") for item in items]
    start, end = 0, len(items)
    for name, cursor in (("after", after), ("before", before)):
        if cursor is None:
            continue
        if cursor not in ids:
            raise BadRequestError(
                f"Invalid value for '{name}': no input item '{cursor}' in response '{response_id}'.", param=name
            )
        if name == "after":
            start = ids.index(cursor) + 1
        else:
            end = ids.index(cursor)
    window = items[start:end]
    # Paging backwards from `before` returns the items just before it, still in the requested order.
    page = window[-limit:] if before is not None and after is None else window[:limit]
    return Page(
        data=page,
        has_more=len(window) > limit,
        first_id=page[0].get("id") if page else None,
        last_id=page[-1].get("id") if page else None,
    )


def response_object(row: StoredResponse, *, with_input: bool = False) -> dict:
    body = dict(row.response)
    if with_input:
        body["input"] = row.input_items
    return body
