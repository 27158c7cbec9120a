"""`/v1/responses`: OpenAI's Responses API over any OpenAI-compatible model server, with stored prompts."""

from __future__ import annotations

from django.http import HttpRequest

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.http import deleted_response, json_or_stream_response, json_response, page_response
from apps.core.principal import request_principal
from apps.core.schemas import CREATE, DELETE, LIST, MODEL_CALL, READ, STREAMED, responses
from apps.responses import background, compaction, selectors, services
from apps.responses.schemas import (
    CompactedResponse,
    CompactResponseRequest,
    CreateResponseRequest,
    InputItemList,
    InputItemListQuery,
    Response,
    ResponseDeleted,
    ResponseList,
    ResponseListQuery,
)

router = Router(tags=["responses"])

_INCLUDE = Query(None, description="Accepted for OpenAI compatibility and ignored: objects are returned whole.")


@router.post(
    "",
    response=responses(Response, *CREATE, *MODEL_CALL),
    summary="Create a response (JSON, or server-sent events with stream)",
    openapi_extra=STREAMED,
)
async def create_response(request: HttpRequest, body: CreateResponseRequest):
    result = await services.response_create(request=body, principal=request_principal(request))
    return json_or_stream_response(result)


@router.post(
    "/compact",
    response=responses(CompactedResponse, *CREATE, *MODEL_CALL),
    summary="Compact a conversation: its user messages and one compaction item (nothing is stored)",
)
async def compact_response(request: HttpRequest, body: CompactResponseRequest):
    return json_response(await compaction.response_compact(request=body, principal=request_principal(request)))


@router.get("", response=responses(ResponseList, *LIST), summary="List stored responses (llama-stack extension)")
async def list_responses(request: HttpRequest, query: Query[ResponseListQuery]):
    page = await sync_to_async(selectors.response_list)(query=query, principal=request_principal(request))
    return page_response(page, [selectors.response_object(row, with_input=True) for row in page.data])


@router.get(
    "/{response_id}",
    response=responses(Response, *READ),
    summary="Retrieve a stored response (a background one also as server-sent events, with stream)",
    openapi_extra=STREAMED,
)
async def get_response(
    request: HttpRequest,
    response_id: str,
    include: list[str] | None = _INCLUDE,
    stream: bool = Query(False, description="A background response's events, as they come, until it ends."),
    starting_after: int | None = Query(None, ge=0, description="With stream: only the events after this number."),
):
    principal = request_principal(request)
    if stream:
        events = await background.response_stream(
            response_id=response_id, starting_after=starting_after, principal=principal
        )
        return json_or_stream_response(events)
    return json_response(await sync_to_async(selectors.response_json)(response_id=response_id, principal=principal))


@router.post(
    "/{response_id}/cancel",
    response=responses(Response, *READ),
    summary="Cancel a queued or running background response",
)
async def cancel_response(request: HttpRequest, response_id: str):
    return json_response(
        await background.response_cancel(response_id=response_id, principal=request_principal(request))
    )


@router.delete("/{response_id}", response=responses(ResponseDeleted, *DELETE), summary="Delete a stored response")
async def delete_response(request: HttpRequest, response_id: str):
    await sync_to_async(services.response_delete)(response_id=response_id, principal=request_principal(request))
    return deleted_response(response_id, "response")


@router.get(
    "/{response_id}/input_items", response=responses(InputItemList, *READ), summary="List a response's input items"
)
async def list_response_input_items(
    request: HttpRequest, response_id: str, query: Query[InputItemListQuery], include: list[str] | None = _INCLUDE
):
    page = await sync_to_async(selectors.response_input_items_list)(
        response_id=response_id, query=query, principal=request_principal(request)
    )
    return page_response(page)
