"""Wire shapes several `/v1` apps share: OpenAI's list envelope, the answer to a delete, a cursor list's query.

Each operation still declares a schema of its own name (`FileList`, `ChatCompletionDeleted`) by subclassing these,
so the OpenAPI document names and describes every body as before.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field

from apps.core.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

T = TypeVar("T")


class CursorList(Schema, Generic[T]):
    """OpenAI's list envelope for a cursor page (what `apps.core.http.page_body` renders)."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


class Deleted(Schema):
    """OpenAI's answer to a delete (what `apps.core.http.deleted_response` renders); subclasses fix `object`."""

    id: str
    object: str
    deleted: bool = True


class ModelOutput(Schema):
    """A stored model output (chat completion, response) as the model server shaped it: the declared fields are
    the ones every client relies on; the others pass through."""

    model_config = ConfigDict(extra="allow")

    id: str
    model: str


class PageQuery(Schema):
    """The query of a stored-object list (`?after=&limit=&order=`); the selector checks the values.

    An operation subclasses it to document its own default page size or order and to add its filters."""

    after: str | None = None
    limit: int = Field(DEFAULT_PAGE_SIZE, description=f"Page size, 1-{MAX_PAGE_SIZE}.")
    order: Literal["asc", "desc"] = "desc"


class ModelPageQuery(PageQuery):
    """A list of stored model outputs, filtered by the model that produced them."""

    model: str | None = None
