"""Public contracts of the Prompts API: llama-stack's shapes, plus stackadmin's optional extras."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field

from apps.core.schemas import documented, id_pattern, page_size
from apps.prompts.keys import PROMPT_ID_RE

MAX_PAGE_SIZE = 1000  # a listing with paging parameters (the selector checks it)

PromptId = documented(str, **id_pattern(PROMPT_ID_RE, "'pmpt_' followed by 48 lowercase hex characters."))
PageSize = documented(int | None, **page_size(MAX_PAGE_SIZE))
VersionNumber = documented(int | None, type="integer", minimum=1)


class Prompt(Schema):
    prompt: str | None = Field(description="The template text, with {{ name }} placeholders.")
    version: int = Field(ge=1)
    prompt_id: str = Field(description="'pmpt_' followed by 48 lowercase hex characters.")
    variables: list[str] = Field(default_factory=list)
    is_default: bool = Field(description="True when this version is the prompt's default version.")
    created_at: int | None = Field(None, description="Unix seconds when this version was written (extension).")
    created_by: str | None = Field(None, description="Who wrote this version, when known (extension).")
    message: str | None = Field(None, description="Commit message of this version (extension).")


class ListPromptsResponse(Schema):
    data: list[Prompt]
    object: Literal["list"] | None = Field(None, description="Present when paging parameters are given.")
    has_more: bool | None = None
    first_id: str | None = None
    last_id: str | None = None


class CreatePromptRequest(Schema):
    prompt: str
    variables: list[str] | None = None
    message: str | None = Field(None, description="Optional commit message for version 1 (extension).")


class UpdatePromptRequest(Schema):
    prompt: str
    version: int = Field(description="The latest version number you saw; anything else is a 409.")
    variables: list[str] | None = Field(None, description="Replaces the variables; null means none.")
    set_as_default: bool = True
    message: str | None = Field(None, description="Optional commit message for the new version (extension).")


class SetDefaultVersionRequest(Schema):
    version: int
