"""Cursor pages for `/v1` lists: the page object, argument checks, and the two query shapes the stores use.

OpenAI lists take `after` (an id), `limit` and `order` and answer `{data, first_id, last_id, has_more}`;
`limit + 1` rows tell `has_more` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet, Subquery

from apps.core.errors import BadRequestError

Order = Literal["asc", "desc"]
# OpenAI's page-size ceiling for its cursor lists (responses, chat completions, conversation items).
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    data: list
    has_more: bool
    first_id: str | None
    last_id: str | None


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


def _page(rows: list, limit: int, id_field: str) -> Page:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=rows,
        has_more=has_more,
        first_id=getattr(rows[0], id_field) if rows else None,
        last_id=getattr(rows[-1], id_field) if rows else None,
    )


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
    return _page(page, limit, id_field)


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
    return _page(list(rows.order_by(*ordering)[: limit + 1]), limit, id_field)
