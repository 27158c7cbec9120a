"""`/v1/prompts`: llama-stack's Prompts API over HTTP."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.http import json_response, page_response
from apps.core.principal import request_principal
from apps.core.schemas import CHANGE, CREATE, DELETE, LIST, READ, responses
from apps.prompts import selectors, services
from apps.prompts.records import versions_body
from apps.prompts.schemas import (
    CreatePromptRequest,
    ListPromptsResponse,
    PageSize,
    Prompt,
    PromptId,
    SetDefaultVersionRequest,
    UpdatePromptRequest,
    VersionContent,
    VersionNumber,
)

router = Router(tags=["prompts"])

_LIMIT = Query(None, description="Page size (1-1000). Without paging parameters: every prompt.")


async def _read(request: HttpRequest, selector, **arguments):
    """Run a selector as the request's principal, inline or on a worker thread as the prompt store suits."""
    return await selectors.aread(selector, principal=request_principal(request), **arguments)


async def _write(request: HttpRequest, service, **arguments):
    """Run a service as the request's principal on a worker thread: a write may wait for a lock, which must not
    stall the event loop."""
    return await sync_to_async(service, thread_sensitive=False)(principal=request_principal(request), **arguments)


def _content(body: VersionContent) -> dict:
    return {"text": body.prompt, "messages": body.messages, "variables": body.variables, "settings": body.given()}


@router.post("", response=responses(Prompt, *CREATE), summary="Create a prompt (version 1, the default)")
async def create_prompt(request: HttpRequest, body: CreatePromptRequest):
    record = await _write(request, services.prompt_create, **_content(body), message=body.message)
    return json_response(record.as_api())


@router.get("", response=responses(ListPromptsResponse, *LIST), summary="List prompts (each prompt's default version)")
async def list_prompts(
    request: HttpRequest,
    limit: PageSize = _LIMIT,
    after: str | None = Query(None, description="Return prompts after this prompt id."),
    order: Literal["asc", "desc"] | None = Query(None, description="By creation time; default newest first."),
):
    if limit is None and after is None and order is None:
        # llama-stack's own listing: no paging, and no OpenAI list envelope.
        return json_response(await _read(request, selectors.prompt_list_json))
    page = await _read(request, selectors.prompt_list, limit=limit, after=after, order=order)
    return page_response(page, [s.default.as_api() for s in page.data])


@router.get(
    "/{prompt_id}", response=responses(Prompt, *READ), summary="Get a prompt (the default version unless `version`)"
)
async def get_prompt(request: HttpRequest, prompt_id: PromptId, version: VersionNumber = None):
    record = await _read(request, selectors.prompt_get, prompt_id=prompt_id, version=version)
    return json_response(record.as_api())


@router.put("/{prompt_id}", response=responses(Prompt, *CHANGE), summary="Create a new version of a prompt")
async def update_prompt(request: HttpRequest, prompt_id: PromptId, body: UpdatePromptRequest):
    record = await _write(
        request,
        services.prompt_update,
        prompt_id=prompt_id,
        **_content(body),
        version=body.version,
        set_as_default=body.set_as_default,
        message=body.message,
    )
    return json_response(record.as_api())


@router.delete("/{prompt_id}", response=responses(None, *DELETE), summary="Delete a prompt and all its versions")
async def delete_prompt(request: HttpRequest, prompt_id: PromptId):
    await _write(request, services.prompt_delete, prompt_id=prompt_id)
    return json_response(None)


@router.get(
    "/{prompt_id}/versions", response=responses(ListPromptsResponse, *READ), summary="List every version of a prompt"
)
async def list_prompt_versions(request: HttpRequest, prompt_id: PromptId):
    versions = await _read(request, selectors.prompt_versions_list, prompt_id=prompt_id)
    return json_response(versions_body(versions))


@router.put(
    "/{prompt_id}/set-default-version", response=responses(Prompt, *CHANGE), summary="Make a version the default"
)
async def set_default_prompt_version(request: HttpRequest, prompt_id: PromptId, body: SetDefaultVersionRequest):
    record = await _write(request, services.prompt_version_set_default, prompt_id=prompt_id, version=body.version)
    return json_response(record.as_api())
