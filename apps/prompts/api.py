"""`/v1/prompts`: llama-stack's Prompts API over HTTP."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.http import json_response, page_response
from apps.core.principal import request_principal
from apps.prompts import selectors, services
from apps.prompts.schemas import (
    CreatePromptRequest,
    ListPromptsResponse,
    Prompt,
    SetDefaultVersionRequest,
    UpdatePromptRequest,
)

router = Router(tags=["prompts"])


async def _read(fn, **kwargs):
    """Run a selector: inline when the prompt store reads locally in microseconds, else on a worker thread."""
    if selectors.prompt_store().inline_reads:
        return fn(**kwargs)
    return await sync_to_async(fn, thread_sensitive=False)(**kwargs)


async def _write(fn, **kwargs):
    """Run a service on a worker thread: a write may wait for a lock, which must not stall the event loop."""
    return await sync_to_async(fn, thread_sensitive=False)(**kwargs)


@router.post("", response=Prompt, summary="Create a prompt (version 1, the default)")
async def create_prompt(request: HttpRequest, body: CreatePromptRequest):
    record = await _write(
        services.prompt_create,
        text=body.prompt,
        variables=body.variables,
        message=body.message,
        principal=request_principal(request),
    )
    return json_response(record.as_api())


@router.get("", response=ListPromptsResponse, summary="List prompts (each prompt's default version)")
async def list_prompts(
    request: HttpRequest,
    limit: int | None = Query(None, description="Page size (1-1000). Without paging parameters: every prompt."),
    after: str | None = Query(None, description="Return prompts after this prompt id."),
    order: Literal["asc", "desc"] | None = Query(None, description="By creation time; default newest first."),
):
    principal = request_principal(request)
    if limit is None and after is None and order is None and selectors.read_predicate(principal, "prompt").op == "true":
        return json_response((await _read(selectors.prompt_index)).default_list_json())
    page = await _read(selectors.prompt_list, limit=limit, after=after, order=order, principal=principal)
    if limit is None and after is None and order is None:
        return json_response({"data": [s.default.as_api() for s in page.data]})
    return page_response(page, [s.default.as_api() for s in page.data])


@router.get("/{prompt_id}", response=Prompt, summary="Get a prompt (the default version unless `version`)")
async def get_prompt(request: HttpRequest, prompt_id: str, version: int | None = None):
    record = await _read(
        selectors.prompt_get, prompt_id=prompt_id, version=version, principal=request_principal(request)
    )
    return json_response(record.as_api())


@router.put("/{prompt_id}", response=Prompt, summary="Create a new version of a prompt")
async def update_prompt(request: HttpRequest, prompt_id: str, body: UpdatePromptRequest):
    record = await _write(
        services.prompt_update,
        prompt_id=prompt_id,
        text=body.prompt,
        version=body.version,
        variables=body.variables,
        set_as_default=body.set_as_default,
        message=body.message,
        principal=request_principal(request),
    )
    return json_response(record.as_api())


@router.delete("/{prompt_id}", response={200: None}, summary="Delete a prompt and all its versions")
async def delete_prompt(request: HttpRequest, prompt_id: str):
    await _write(services.prompt_delete, prompt_id=prompt_id, principal=request_principal(request))
    return json_response(b"null")


@router.get("/{prompt_id}/versions", response=ListPromptsResponse, summary="List every version of a prompt")
async def list_prompt_versions(request: HttpRequest, prompt_id: str):
    versions = await _read(selectors.prompt_versions_list, prompt_id=prompt_id, principal=request_principal(request))
    return json_response({"data": [v.as_api() for v in versions]})


@router.put("/{prompt_id}/set-default-version", response=Prompt, summary="Make a version the default")
async def set_default_prompt_version(request: HttpRequest, prompt_id: str, body: SetDefaultVersionRequest):
    record = await _write(
        services.prompt_version_set_default,
        prompt_id=prompt_id,
        version=body.version,
        principal=request_principal(request),
    )
    return json_response(record.as_api())
