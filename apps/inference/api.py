"""`/v1/models` and `/v1/chat/completions`: OpenAI's Models and Chat Completions APIs (with stored completions)."""

from __future__ import annotations

from django.http import HttpRequest

from asgiref.sync import sync_to_async
from ninja import Query, Router

from apps.core.http import deleted_response, json_or_stream_response, json_response, list_body, page_response
from apps.core.principal import request_principal
from apps.core.schemas import CHANGE, CREATE, DELETE, LIST, MODEL_CALL, READ, STREAMED, responses
from apps.inference import selectors, services
from apps.inference.schemas import (
    ChatCompletion,
    ChatCompletionDeleted,
    ChatCompletionList,
    ChatCompletionListQuery,
    ChatCompletionMessageList,
    ChatCompletionMessageListQuery,
    CreateChatCompletionRequest,
    ModelDetail,
    ModelList,
    ProviderInfo,
    ProviderList,
    UpdateChatCompletionRequest,
)

models_router = Router(tags=["models"])
chat_completions_router = Router(tags=["chat completions"])
providers_router = Router(tags=["providers"])


@models_router.get(
    "", response=responses(ModelList, 502, 504), summary="List the models of the configured inference providers"
)
async def list_models(request: HttpRequest):
    models = await selectors.model_list()
    return json_response(list_body([m.as_api() for m in models]))


@models_router.get("/{path:model_id}", response=responses(ModelDetail, *READ, 502, 504), summary="Retrieve a model")
async def get_model(request: HttpRequest, model_id: str):
    model = await selectors.model_get(model_id=model_id)
    return json_response(model.as_api_detail())


@providers_router.get(
    "", response=responses(ProviderList), summary="List the inference providers, with their health (llama-stack)"
)
async def list_providers(request: HttpRequest):
    return json_response(list_body(await selectors.provider_list()))


@providers_router.get("/{provider_id}", response=responses(ProviderInfo, *READ), summary="Retrieve a provider")
async def get_provider(request: HttpRequest, provider_id: str):
    return json_response(await selectors.provider_get(provider_id=provider_id))


@chat_completions_router.post(
    "",
    response=responses(ChatCompletion, *CREATE, *MODEL_CALL),
    summary="Create a chat completion (stored)",
    openapi_extra=STREAMED,
)
async def create_chat_completion(request: HttpRequest, body: CreateChatCompletionRequest):
    result = await services.chat_completion_create(
        body=body.model_dump(exclude_unset=True), principal=request_principal(request)
    )
    return json_or_stream_response(result)


@chat_completions_router.get("", response=responses(ChatCompletionList, *LIST), summary="List stored chat completions")
async def list_chat_completions(request: HttpRequest, query: Query[ChatCompletionListQuery]):
    page = await sync_to_async(selectors.chat_completion_list)(query=query, principal=request_principal(request))
    return page_response(page, [selectors.completion_object(row) for row in page.data])


@chat_completions_router.get(
    "/{completion_id}", response=responses(ChatCompletion, *READ), summary="Retrieve a stored chat completion"
)
async def get_chat_completion(request: HttpRequest, completion_id: str):
    row = await sync_to_async(selectors.chat_completion_get)(
        completion_id=completion_id, principal=request_principal(request)
    )
    return json_response(selectors.completion_object(row))


@chat_completions_router.post(
    "/{completion_id}", response=responses(ChatCompletion, *CHANGE), summary="Update a completion's metadata"
)
async def update_chat_completion(request: HttpRequest, completion_id: str, body: UpdateChatCompletionRequest):
    row = await sync_to_async(services.chat_completion_update)(
        completion_id=completion_id, metadata=body.metadata, principal=request_principal(request)
    )
    return json_response(selectors.completion_object(row))


@chat_completions_router.delete(
    "/{completion_id}", response=responses(ChatCompletionDeleted, *DELETE), summary="Delete a stored chat completion"
)
async def delete_chat_completion(request: HttpRequest, completion_id: str):
    await sync_to_async(services.chat_completion_delete)(
        completion_id=completion_id, principal=request_principal(request)
    )
    return deleted_response(completion_id, "chat.completion.deleted")


@chat_completions_router.get(
    "/{completion_id}/messages",
    response=responses(ChatCompletionMessageList, *READ),
    summary="List the input messages of a stored chat completion",
)
async def list_chat_completion_messages(
    request: HttpRequest, completion_id: str, query: Query[ChatCompletionMessageListQuery]
):
    page = await sync_to_async(selectors.chat_completion_messages_list)(
        completion_id=completion_id, query=query, principal=request_principal(request)
    )
    return page_response(page)
