"""`/v1/prompts`: llama-stack's Prompts API over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from django.http import HttpRequest

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.errors import BadRequestError
from apps.core.http import json_response, page_response
from apps.core.principal import request_principal
from apps.core.schemas import CHANGE, CREATE, DELETE, LIST, READ, responses
from apps.prompts import selectors, services
from apps.prompts.records import versions_body
from apps.prompts.schemas import (
    HISTORY_ACTION,
    CreatePromptRequest,
    HistoryPageSize,
    Label,
    LabelDeleted,
    ListPromptsResponse,
    MoveLabelRequest,
    PageSize,
    Prompt,
    PromptHistory,
    PromptId,
    PromptLabel,
    PromptLabelList,
    PromptUsage,
    SetDefaultVersionRequest,
    UpdatePromptRequest,
    VersionContent,
    VersionDeleted,
    VersionNumber,
)
from apps.responses import selectors as response_selectors

router = Router(tags=["prompts"])

_LIMIT = Query(None, description="Page size (1-1000). Without paging parameters: every prompt.")
_HISTORY_LIMIT = Query(20, description="Page size (1-100).")
_ACTION = Query(None, description="Only this action.")
_LABEL = Query(None, description="A label: the version it points at (extension).")


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
    "/history",
    response=responses(PromptHistory, *LIST, 400),
    summary="Every prompt's history, newest first (extension)",
)
async def list_prompts_history(
    request: HttpRequest,
    limit: HistoryPageSize = _HISTORY_LIMIT,
    after: str | None = Query(None, description="Return entries after (older than) this entry id."),
    action: HISTORY_ACTION | None = _ACTION,
    label: str | None = Query(None, description="Only moves of this label ('default' for the default)."),
    actor: str | None = Query(None, description="Only what this user did."),
    since: int | None = Query(None, description="Only entries at or after this Unix time."),
    until: int | None = Query(None, description="Only entries before this Unix time."),
):
    filters = selectors.HistoryFilter(action=action, label=label, actor=actor, since=since, until=until)
    page = await _read(request, selectors.prompts_history, filters=filters, limit=limit, after=after)
    return page_response(page, [entry.as_api() for entry in page.data])


@router.get(
    "/{prompt_id}",
    response=responses(Prompt, *READ),
    summary="Get a prompt (the default version unless `version` or `label`)",
)
async def get_prompt(
    request: HttpRequest,
    prompt_id: PromptId,
    version: VersionNumber = None,
    label: Label | None = _LABEL,
):
    if version is not None and label is not None:
        raise BadRequestError("Give 'version' or 'label', not both.", param="label")
    record = await _read(request, selectors.prompt_get, prompt_id=prompt_id, version=version, label=label)
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
    record = await _write(
        request,
        services.prompt_version_set_default,
        prompt_id=prompt_id,
        version=body.version,
        message=body.message,
    )
    return json_response(record.as_api())


@router.get(
    "/{prompt_id}/labels", response=responses(PromptLabelList, *READ), summary="List a prompt's labels (extension)"
)
async def list_prompt_labels(request: HttpRequest, prompt_id: PromptId):
    labels = await _read(request, selectors.prompt_label_list, prompt_id=prompt_id)
    return json_response({"object": "list", "data": labels})


@router.put(
    "/{prompt_id}/labels/{label}",
    response=responses(PromptLabel, *CHANGE),
    summary="Point a label at a version (extension)",
)
async def move_prompt_label(request: HttpRequest, prompt_id: PromptId, label: Label, body: MoveLabelRequest):
    record = await _write(
        request,
        services.prompt_label_move,
        prompt_id=prompt_id,
        label=label,
        version=body.version,
        message=body.message,
    )
    # Built from what was written, not read back: the move is acknowledged even if the prompt is gone by now.
    return json_response(selectors.label_object(prompt_id, label, record.version))


@router.delete(
    "/{prompt_id}/labels/{label}",
    response=responses(LabelDeleted, *DELETE, 409),
    summary="Remove a label (extension)",
)
async def delete_prompt_label(request: HttpRequest, prompt_id: PromptId, label: Label):
    await _write(request, services.prompt_label_remove, prompt_id=prompt_id, label=label)
    return json_response({"object": "prompt.label.deleted", "prompt_id": prompt_id, "label": label, "deleted": True})


@router.delete(
    "/{prompt_id}/versions/{version}",
    response=responses(VersionDeleted, *DELETE, 409),
    summary="Delete one version, unless the default or a label points at it (extension)",
)
async def delete_prompt_version(request: HttpRequest, prompt_id: PromptId, version: int):
    await _write(request, services.prompt_version_delete, prompt_id=prompt_id, version=version)
    body = {"object": "prompt.version.deleted", "prompt_id": prompt_id, "version": version, "deleted": True}
    return json_response(body)


@router.get(
    "/{prompt_id}/history",
    response=responses(PromptHistory, *READ),
    summary="A prompt's history, newest first; also once the prompt is deleted (extension)",
)
async def list_prompt_history(
    request: HttpRequest,
    prompt_id: PromptId,
    limit: HistoryPageSize = _HISTORY_LIMIT,
    after: str | None = Query(None, description="Return entries after (older than) this entry id."),
):
    page = await _read(request, selectors.prompt_history, prompt_id=prompt_id, limit=limit, after=after)
    return page_response(page, [entry.as_api() for entry in page.data])


_USAGE_LABEL = Query(None, description="Only responses made while this label pointed at the version.")


def _moment(value: int | None, param: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadRequestError(f"Invalid value for '{param}': not a Unix time.", param=param) from exc


@router.get(
    "/{prompt_id}/usage",
    response=responses(PromptUsage, *READ),
    summary="Usage per version from stored responses, and requests over time (extension)",
)
async def get_prompt_usage(
    request: HttpRequest,
    prompt_id: PromptId,
    since: int | None = Query(None, description="Only responses created at or after this Unix time."),
    until: int | None = Query(None, description="Only responses created before this Unix time."),
    label: Label | None = _USAGE_LABEL,
    bucket: Literal["hour", "day"] | None = Query(None, description="Series step; default hours up to two days."),
    include_playground: bool = Query(False, description="Count the dashboard playground's runs too."),
):
    filters = response_selectors.UsageFilter(
        since=_moment(since, "since"),
        until=_moment(until, "until"),
        label=label,
        include_playground=include_playground,
    )
    usage = await sync_to_async(response_selectors.prompt_usage)(
        prompt_id=prompt_id, filters=filters, bucket=bucket, principal=request_principal(request)
    )
    return json_response(usage.as_api())
