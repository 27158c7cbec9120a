"""Cursor pages for `/v1` lists: the page object, argument checks, and the two query shapes the stores use.

OpenAI lists take `after` (an id), `limit` and `order` and answer `{data, first_id, last_id, has_more}`;
`limit + 1` rows tell `has_more` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Q, QuerySet, Subquery

from apps.core.errors import BadRequestError

Order = Literal["asc", "desc"]
# OpenAI's default page size and ceiling for its cursor lists (responses, chat completions, conversation items).
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    data: list
    has_more: bool
    first_id: str | None
    last_id: str | None

    @classmethod
    def of(cls, data: list, *, has_more: bool, id_field: str = "id") -> Page:
        """A page of `data`: JSON objects with an `id_field` key, or model instances with such an attribute."""
        first, last = (_id_of(data[0], id_field), _id_of(data[-1], id_field)) if data else (None, None)
        return cls(data=data, has_more=has_more, first_id=first, last_id=last)


def _id_of(row: Any, id_field: str) -> str | None:
    return row.get(id_field) if isinstance(row, dict) else getattr(row, id_field)


def check_page_args(limit: int, order: str, *, max_limit: int = MAX_PAGE_SIZE) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise BadRequestError(
            f"Invalid value for 'limit': {limit!r}; expected an integer from 1 to {max_limit}.",
            param="limit",
            code="invalid_value",
        )
    if order not in ("asc", "desc"):
        raise BadRequestError(
            f"Invalid value for 'order': {order!r}; expected 'asc' or 'desc'.", param="order", code="invalid_value"
        )


def first_rows(rows: list, limit: int, *, id_field: str = "id") -> Page:
    """The page of `limit` rows out of `limit + 1` read, the extra row telling `has_more`."""
    return Page.of(rows[:limit], has_more=len(rows) > limit, id_field=id_field)


def pk_page(
    rows: QuerySet,
    *,
    cursors: QuerySet,
    after: str | None,
    limit: int,
    order: str,
    noun: str,
    id_field: str = "public_id",
) -> Page:
    """Rows in primary-key order (creation order that never ties), strictly after the `after` row. `cursors` is
    where the cursor is looked up: it may be wider than `rows` (a file that expired since the last page still
    marks its place)."""
    if after is not None:
        cursor = Subquery(cursors.filter(**{id_field: after}).values("pk")[:1])
        rows = rows.filter(pk__lt=cursor) if order == "desc" else rows.filter(pk__gt=cursor)
    page = list(rows.order_by("-pk" if order == "desc" else "pk")[: limit + 1])
    if not page and after is not None and not cursors.filter(**{id_field: after}).exists():
        raise BadRequestError(
            f"Invalid value for 'after': no {noun} with id '{after}'.", param="after", code="invalid_value"
        )
    return first_rows(page, limit, id_field=id_field)


def keyset_page(rows: QuerySet, *, after: str | None, limit: int, order: str, id_field: str = "public_id") -> Page:
    """Rows ordered by (created_at, pk), strictly after the `after` row."""
    if after is not None:
        cursor = rows.filter(**{id_field: after}).values("created_at", "pk").first()
        if cursor is None:
            raise BadRequestError(
                f"Invalid value for 'after': no item with id '{after}' in this list.",
                param="after",
                code="invalid_value",
            )
        c, pk = cursor["created_at"], cursor["pk"]
        if order == "desc":
            rows = rows.filter(Q(created_at__lt=c) | Q(created_at=c, pk__lt=pk))
        else:
            rows = rows.filter(Q(created_at__gt=c) | Q(created_at=c, pk__gt=pk))
    ordering = ("-created_at", "-pk") if order == "desc" else ("created_at", "pk")
    return first_rows(list(rows.order_by(*ordering)[: limit + 1]), limit, id_field=id_field)


def model_page(rows: QuerySet, *, after: str | None, limit: int, model: str | None, order: str) -> Page:
    """A page of stored model outputs (chat completions, responses) in creation order, of one `model` if given."""
    check_page_args(limit, order)
    return keyset_page(rows.filter(model=model) if model else rows, after=after, limit=limit, order=order)


def list_page(
    items: list[dict], *, after: str | None, before: str | None = None, limit: int, order: str, noun: str, within: str
) -> Page:
    """A page of a list kept whole in one row (a completion's messages, a response's input items), by item `id`.

    `after` and `before` are ids of the list in the requested order; paging backwards from `before` alone returns
    the items just before it, still in that order. An unknown cursor is a 400 naming the `noun` and where the list
    is (`within`)."""
    items = items[::-1] if order == "desc" else items
    ids = [item.get("id") for item in items]
    start, end = 0, len(items)
    for name, cursor in (("after", after), ("before", before)):
        if cursor is None:
            continue
        if cursor not in ids:
            raise BadRequestError(f"Invalid value for '{name}': no {noun} '{cursor}' in {within}.", param=name)
        if name == "after":
            start = ids.index(cursor) + 1
        else:
            end = ids.index(cursor)
    window = items[start:end]
    page = window[-limit:] if before is not None and after is None else window[:limit]
    return Page.of(page, has_more=len(window) > limit)
