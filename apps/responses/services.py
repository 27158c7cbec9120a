"""Create responses: one chat-completion call to the model's provider, described as an OpenAI response (with
server-side tools, such as MCP, several: the tool loop of apps/responses/tool_loop.py).

Everything that can be refused is checked before the model is called (and before a stream starts), so a caller's
mistake, an unknown model, prompt or previous response, or a model server that cannot be reached, is an ordinary
HTTP error and nothing is stored. Once a stream has started, a failure of the model server ends it with
`response.failed` (the response is stored as failed when `store` is on, never as completed); so does a failure of
the final store write (nothing is stored as completed then).

The messages sent are: the stored prompt (a text prompt as a system message, a chat template's messages as they
are), `instructions` (system), the history, this turn's input. The model settings are the request's, laid over the
prompt version's (`apps.core.model_settings.merged`): a request may leave out even `model` when the version names
one.
History is the chat messages stored with the previous response (`previous_response_id`) or the conversation's
items (`conversation`). What is stored for resumption is the history plus this turn, without system messages:
like OpenAI, `instructions` and `prompt` apply to the request that carries them.

A stored response (and a conversation's new items) is committed before the create call returns, or in a stream
before `response.completed` is sent, so the next request can name it at once, in any worker process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from asgiref.sync import sync_to_async
from pydantic import ValidationError

from apps.conversations.selectors import conversation_history
from apps.conversations.services import conversation_items_add
from apps.core.access import require_create
from apps.core.errors import BadRequestError, NotFoundError, StackAdminError, UpstreamError
from apps.core.http import sse_event
from apps.core.items import with_id
from apps.core.model_settings import ModelSettings, merged
from apps.core.principal import ANONYMOUS, Principal
from apps.core.validation import request_error
from apps.files.selectors import file_data_url, validate_file_id
from apps.inference.selectors import ModelHandle, model_resolve
from apps.prompts import selectors as prompt_selectors
from apps.responses import items as conv
from apps.responses.background import background_create
from apps.responses.builder import ResponseBuilder
from apps.responses.models import BackgroundRun, ResponseEvent, ResponseOrigin
from apps.responses.plans import Plan, response_row
from apps.responses.schemas import CreateResponseRequest, ResponsePrompt, function_tools, server_tool_params
from apps.responses.selectors import response_for_resume, response_not_found, responses_visible
from apps.responses.tool_loop import ToolLoop
from apps.responses.truncation import estimated_tokens, truncated_history
from apps.storage.errors import reported_error
from apps.storage.write_queue import write_queue
from apps.tools.config import tools_config
from apps.tools.mcp_tool import McpToolParam, approvals_check, mcp_tools_check
from apps.tools.server_tools import ServerTool, ToolSetupError, tools_from_params
from apps.tools.web_search_tool import WebSearchToolParam, web_search_tools_check


def new_response_id() -> str:
    return conv.new_output_id("resp")


# ------------------------------------------------------------------------------------------ prompt
MAX_INLINE_FILE_BYTES = 32 * 1024 * 1024  # a file named by `file_id` is sent to the model inline, up to this


@dataclass(frozen=True)
class ResolvedPrompt:
    prompt_id: str
    version: int
    messages: list[dict]  # chat messages sent before everything else: the text as a system message, or the template
    media: list[dict]  # a text prompt's image/file variables, sent after the conversation as a user message
    instructions: list[dict] | None  # a chat template, rendered, as the response's `instructions` shows it
    settings: dict  # the version's model settings
    echo: dict
    labels: tuple[str, ...] = ()  # the labels pointing at the version (`default` included) as it was resolved


async def _inline_file(part: dict, principal: Principal, param: str) -> dict:
    """An image or file part that names one of our files by `file_id`, with its bytes inline (what a chat model
    takes); a file the caller may not read is a 400 naming `param`."""
    if part.get("type") not in ("input_image", "input_file") or not part.get("file_id"):
        return part
    file_id = validate_file_id(part["file_id"], param=param)
    try:
        file, url = await sync_to_async(file_data_url)(
            file_id=file_id, principal=principal, max_bytes=MAX_INLINE_FILE_BYTES
        )
    except (NotFoundError, BadRequestError) as exc:
        raise BadRequestError(f"Invalid value for '{param}': {exc.message}", param=param, code=exc.code) from exc
    if part["type"] == "input_file":
        return {"type": "input_file", "file_data": url, "filename": part.get("filename") or file.filename}
    if not url.startswith("data:image/"):
        raise BadRequestError(
            f"Invalid value for '{param}': file '{part['file_id']}' ({file.filename}) is not an image.", param=param
        )
    return {"type": "input_image", "image_url": url, **({"detail": part["detail"]} if part.get("detail") else {})}


async def _inline_files(items: list[dict], principal: Principal, params: dict[str, str]) -> list[dict]:
    """`items` (rendered template messages) with their file parts inline; `params` names where each file id came
    from (a variable), else it is the stored prompt's."""
    out = []
    for item in items:
        content = [await _inline_file(p, principal, params.get(p.get("file_id"), "prompt.id")) for p in item["content"]]
        out.append({**item, "content": content})
    return out


def _file_params(variables: dict) -> dict[str, str]:
    return {
        value["file_id"]: f"prompt.variables.{name}"
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("file_id")
    }


def _prompt_not_found(request: ResponsePrompt, exc: NotFoundError) -> BadRequestError:
    """A prompt, version or label the caller cannot use: a 400 whose message says "not found", as llama-stack's
    Responses tests expect of an unknown prompt or version."""
    if exc.param not in ("version", "label") or request.version is None:
        return BadRequestError(exc.message, param="prompt.id", code="prompt_not_found")
    which = f"version {request.version}" if exc.param == "version" else f"label '{request.version}'"
    return BadRequestError(f"Prompt '{request.id}' {which} not found.", param="prompt.version", code="prompt_not_found")


async def resolve_prompt(request: ResponsePrompt, principal: Principal = ANONYMOUS) -> ResolvedPrompt:
    """The stored prompt with its variables substituted. The request's shape was checked by its schema
    (`ResponsePrompt`); a prompt the caller cannot see is a 400 naming `prompt.id` or `prompt.version`."""
    prompt_id, variables = request.id, request.variables or {}
    try:
        rendered = await prompt_selectors.aprompt_render(
            prompt_id=prompt_id,
            version=request.version if isinstance(request.version, int) else None,
            label=request.version if isinstance(request.version, str) else None,
            variables=variables,
            principal=principal,
            param="prompt.variables",
        )
    except NotFoundError as exc:
        raise _prompt_not_found(request, exc) from exc
    stored = rendered.prompt
    labels = (*(("default",) if stored.is_default else ()), *stored.labels)
    echo = {"id": prompt_id, "version": str(stored.version), "variables": dict(variables) or None}
    if isinstance(request.version, str):  # a label: echoed as given, with the number it resolved to
        echo = {**echo, "version": request.version, "resolved_version": str(stored.version)}
    if rendered.messages is not None:
        sent = await _inline_files(rendered.messages, principal, _file_params(variables))
        messages = conv.items_to_messages(sent, known_calls=set(), param="prompt")
        return ResolvedPrompt(prompt_id, stored.version, messages, [], rendered.messages, stored.settings, echo, labels)
    media = [
        conv.part_to_chat(await _inline_file(part, principal, f"prompt.variables.{name}"), f"prompt.variables.{name}")
        for name, part in rendered.media.items()
    ]
    system = [{"role": "system", "content": rendered.text}]
    return ResolvedPrompt(prompt_id, stored.version, system, media, None, stored.settings, echo, labels)


async def _model(settings: ModelSettings, request: CreateResponseRequest, prompt: ResolvedPrompt | None) -> ModelHandle:
    """The model to call: the request's, else the prompt version's; one the server cannot serve is a 404 that
    names it (and the prompt, when the model came from there)."""
    if settings.model is None:
        where = f" (prompt '{prompt.prompt_id}' version {prompt.version} names none)" if prompt else ""
        raise BadRequestError(
            f"Missing required parameter: 'model'{where}.", param="model", code="missing_required_parameter"
        )
    try:
        return await model_resolve(model_id=settings.model)
    except NotFoundError as exc:
        if request.model is not None or prompt is None:
            raise
        raise NotFoundError(
            f"{exc.message} It is the model of prompt '{prompt.prompt_id}' version {prompt.version}.",
            param="model",
            code=exc.code,
        ) from exc


# ------------------------------------------------------------------------------------------ history
def _history_from_items(items: list[dict]) -> list[dict]:
    usable = [
        item
        for item in items
        if item.get("type") in ("message", "function_call", "function_call_output", "compaction", "mcp_call")
        and not (item.get("type") == "message" and item.get("role") not in ("user", "assistant", "system", "developer"))
    ]
    return conv.items_to_messages(usable, known_calls=set(), param="conversation.items")


async def _history(
    request: CreateResponseRequest, principal: Principal, *, will_append: bool
) -> tuple[list[dict], list[dict]]:
    """What this turn continues, as (chat messages, items): a previous response's (its input items, which hold
    its own history, then its output), a conversation's items, or none. The items are what `input_items` lists
    before the request's own input, as OpenAI and llama-stack list them."""
    if request.previous_response_id:
        previous = await sync_to_async(response_for_resume)(
            response_id=request.previous_response_id, principal=principal
        )
        return list(previous.messages), [*previous.input_items, *previous.response.get("output", ())]
    if request.conversation:
        items = await sync_to_async(conversation_history)(
            conversation_id=request.conversation, principal=principal, for_append=will_append
        )
        return _history_from_items(items), items
    return [], []


# ------------------------------------------------------------------------------------------ plan
def _sampling(settings: ModelSettings) -> dict[str, Any]:
    fields = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_completion_tokens": settings.max_output_tokens,
    }
    return {name: value for name, value in fields.items() if value is not None}


LOGPROBS_INCLUDE = "message.output_text.logprobs"
# Request fields a chat completion takes under the same name, sent when the request gives them.
_PASSED_ON = ("top_logprobs", "service_tier", "user", "safety_identifier", "prompt_cache_key")


def _passed_on(request: CreateResponseRequest) -> dict[str, Any]:
    fields = {name: getattr(request, name) for name in _PASSED_ON if getattr(request, name) is not None}
    if request.top_logprobs is not None or LOGPROBS_INCLUDE in (request.include or ()):
        fields["logprobs"] = True  # the chat API computes logprobs (and top_logprobs) only when asked
    return fields


def _upstream_body(
    request: CreateResponseRequest,
    settings: ModelSettings,
    model: ModelHandle,
    messages: list[dict],
    tools: list[dict],
    chat_choice: Any,
    server_side: bool = False,
) -> dict[str, Any]:
    """The chat-completion request that computes the response (`server_side`: the tool loop adds the functions of
    server-side tools to it)."""
    body: dict[str, Any] = {"model": model.provider_model_id, "messages": messages, **_sampling(settings)}
    body.update(_passed_on(request))
    if tools or server_side:
        if tools:
            body["tools"] = conv.chat_tools(tools)
        if chat_choice is not None:
            body["tool_choice"] = chat_choice
        if settings.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = settings.parallel_tool_calls
    _, response_format = conv.chat_response_format(settings.text)
    if response_format is not None:
        body["response_format"] = response_format
    effort = (settings.reasoning or {}).get("effort")
    if effort:
        body["reasoning_effort"] = effort
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _instructions(request: CreateResponseRequest, prompt: ResolvedPrompt | None) -> str | list[dict] | None:
    """`instructions` as a response shows them: with a chat template, its rendered messages (as OpenAI shows a
    prompt object's), the request's own instructions after them as a developer message."""
    if prompt is None or prompt.instructions is None:
        return request.instructions
    own = [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": request.instructions}]}]
    return [*prompt.instructions, *(own if request.instructions else [])]


def _echo(
    request: CreateResponseRequest,
    settings: ModelSettings,
    prompt: ResolvedPrompt | None,
    tools: list[dict],
    tool_choice: Any,
) -> dict:
    """The request fields a response repeats, with the settings that were used (the prompt's, where the request
    gives none)."""
    reasoning = settings.reasoning or {}
    return {
        "model": settings.model,
        "instructions": _instructions(request, prompt),
        "max_output_tokens": settings.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "metadata": request.metadata or {},
        "parallel_tool_calls": settings.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id or None,
        "conversation": {"id": request.conversation} if request.conversation else None,
        "prompt": prompt.echo if prompt is not None else None,
        "prompt_cache_key": request.prompt_cache_key,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "default",  # or as the model server reports it (the builder)
        "store": request.store is not False,
        "temperature": settings.temperature if settings.temperature is not None else 1.0,
        "text": conv.chat_response_format(settings.text)[0],
        "tool_choice": tool_choice,
        "tools": tools,
        "top_logprobs": request.top_logprobs or 0,
        "top_p": settings.top_p if settings.top_p is not None else 1.0,
        "truncation": settings.truncation or "disabled",
        "user": request.user,
    }


def _with_system(messages: list[dict], prompt: ResolvedPrompt | None, instructions: str | None) -> list[dict]:
    """The stored prompt's messages and `instructions` (system) before the conversation; a text prompt's media
    after it."""
    system: list[dict] = list(prompt.messages) if prompt is not None else []
    if instructions:
        system.append({"role": "system", "content": instructions})
    media = [{"role": "user", "content": prompt.media}] if prompt is not None and prompt.media else []
    return [*system, *messages, *media]


def _sent_messages(
    conversation: tuple[list[dict], list[dict], list[dict]],
    prompt: ResolvedPrompt | None,
    request: CreateResponseRequest,
    settings: ModelSettings,
    model: ModelHandle,
) -> list[dict]:
    """The chat messages sent: the system messages, then `conversation` (history, this turn, the two joined),
    with the history's oldest turns dropped to fit the model's context window under `truncation: "auto"`."""
    history, turn, joined = conversation
    if settings.truncation == "auto" and model.context_window:
        fixed = estimated_tokens(_with_system(turn, prompt, request.instructions)) + (settings.max_output_tokens or 0)
        kept = truncated_history(history, fixed_tokens=fixed, window=model.context_window)
        if len(kept) < len(history):
            joined = conv.join_turn(kept, turn)
    return _with_system(joined, prompt, request.instructions)


# ------------------------------------------------------------------------------------------ server-side tools
def _mcp_params(tools: list | None) -> list[tuple[int, McpToolParam]]:
    return [(index, tool) for index, tool in server_tool_params(tools) if isinstance(tool, McpToolParam)]


def _check_server_tools(tools: list | None, *, background: bool = False, at: str = "tools") -> None:
    """What server-side tools may not do, refused before anything is stored or called: reach a host the operator did
    not allow, put their secrets in a background response's stored plan, or search the web on a server without a
    search provider. `at` names the list in errors (`prompt.tools`: a prompt version's, checked when used)."""
    web_search_tools_check(
        [(index, tool) for index, tool in server_tool_params(tools) if isinstance(tool, WebSearchToolParam)], at=at
    )
    mcp = _mcp_params(tools)
    if not mcp:
        return
    mcp_tools_check(mcp, at=at)
    if background:
        for index, tool in mcp:
            if tool.headers or tool.authorization:
                raise BadRequestError(
                    f"Invalid value for 'tools[{index}].headers': a background response cannot use an MCP tool with "
                    "headers or authorization (its plan is stored for a worker to run, and secrets are never "
                    "stored); run it in the foreground, or use a server that needs no headers.",
                    param=f"tools[{index}].headers",
                    code="invalid_value",
                )


def _credentials(tools: list | None) -> list[tuple[int, McpToolParam]]:
    """The request's credentials-only `mcp` tools (no `server_url`): secrets for its prompt's MCP tools."""
    return [(index, tool) for index, tool in _mcp_params(tools) if tool.credentials_only]


def _client_request(request: CreateResponseRequest) -> tuple[CreateResponseRequest, list | None]:
    """(the request with only the client's function tools, as the model settings hold them; its whole `tools`),
    once its server-side tools passed their checks. A request whose `tools` are only credentials for its prompt's
    MCP tools gives no tools of its own: the prompt's stay (`merged` keeps them)."""
    _check_server_tools(request.tools, background=bool(request.background))
    if request.tools is None:
        return request, None
    only_credentials = len(_credentials(request.tools)) == len(request.tools) > 0
    functions = None if only_credentials else function_tools(request.tools)
    return request.model_copy(update={"tools": functions}), request.tools


def _unused_credentials(index: int, tool: McpToolParam, prompt: ResolvedPrompt | None, own: bool) -> BadRequestError:
    if prompt is None:
        why = "this request names no prompt whose MCP tool it could give headers/authorization to"
    elif own:
        why = (
            "the request gives tools of its own, which replace the prompt's (so the prompt's MCP tools are not "
            "used): give the whole mcp tool"
        )
    else:
        why = f"prompt '{prompt.prompt_id}' version {prompt.version} has no MCP tool labelled {tool.server_label!r}"
    return BadRequestError(
        f"Missing required parameter: 'tools[{index}].server_url' ({why}).",
        param=f"tools[{index}].server_url",
        code="missing_required_parameter",
    )


def _prompt_tools(
    request_tools: list | None, settings: ModelSettings, prompt: ResolvedPrompt | None
) -> tuple[ModelSettings, list | None]:
    """(the settings with only function tools; every tool this response uses), when the tools come from the prompt
    version (the request gives none of its own): checked as a request's are, when used (the operator may have
    allowed an MCP host since the version was saved, or stopped allowing it), then given the request's credentials
    for its MCP tools (by `server_label`; they live for this response only, as a request's own do)."""
    credentials = _credentials(request_tools)
    own = request_tools is not None and len(credentials) < len(request_tools)
    tools = list(settings.tools or ()) if prompt is not None and not own else []
    by_label = {tool.server_label: at for at, tool in enumerate(tools) if isinstance(tool, McpToolParam)}
    for index, tool in credentials:
        if tool.server_label not in by_label:
            raise _unused_credentials(index, tool, prompt, own)
    if not server_tool_params(tools):
        return settings, request_tools
    _check_server_tools(tools, at="prompt.tools")
    for _, tool in credentials:
        at = by_label[tool.server_label]
        tools[at] = tools[at].model_copy(update={"headers": tool.headers, "authorization": tool.authorization})
    return settings.model_copy(update={"tools": function_tools(tools)}), tools


def _server_tools(
    request: CreateResponseRequest, request_tools: list | None, history_items: list[dict], input_items: list[dict]
) -> list[ServerTool]:
    """The request's server-side tools, made for this response; an approval answer must match a request."""
    mcp = _mcp_params(request_tools)
    approvals_check(input_items=input_items, history_items=history_items, labels={t.server_label for _, t in mcp})
    params = [param for _, param in server_tool_params(request_tools)]
    return tools_from_params(
        params, history_items=history_items, input_items=input_items, include=request.include or ()
    )


def _tools_echo(request_tools: list | None, settings_tools: list | None) -> list[dict]:
    """`tools` as the response shows them: the request's in its order (server-side tools without their secrets),
    or the prompt's function tools when the request gives none."""
    if request_tools is not None:
        return [tool.echo() for tool in request_tools]
    return [tool.echo() for tool in settings_tools or ()]


async def plan_response(*, request: CreateResponseRequest, principal: Principal, origin: str = "api") -> Plan:
    """Resolve what the (validated) request names: model, prompt and history; build the chat-completion request."""
    started = time.monotonic()
    store = request.store is not False
    if store:
        require_create(principal, "response")
    request, request_tools = _client_request(request)
    prompt = await resolve_prompt(request.prompt, principal) if request.prompt is not None else None
    settings = merged(prompt.settings, request) if prompt is not None else request
    settings, request_tools = _prompt_tools(request_tools, settings, prompt)
    model = await _model(settings, request, prompt)
    history, history_items = await _history(request, principal, will_append=store)
    input_items = [with_id(item) for item in request.input or ()]
    server_tools = _server_tools(request, request_tools, history_items, input_items)
    turn = conv.items_to_messages(input_items, known_calls=conv.tool_call_ids(history))
    conversation_messages = conv.join_turn(history, turn)
    tools = [tool.echo() for tool in settings.tools or ()]
    tool_choice_echo, sent_tools, chat_choice = conv.chat_tool_choice(
        settings.tool_choice, tools, server_side=bool(server_tools)
    )
    if server_tools:
        tools = _tools_echo(request_tools, settings.tools)
    messages = _sent_messages((history, turn, conversation_messages), prompt, request, settings, model)
    return Plan(
        response_id=new_response_id(),
        created_at=timezone.now(),
        model=model,
        store=store,
        stream=bool(request.stream),
        echo=_echo(request, settings, prompt, tools, tool_choice_echo),
        input_items=input_items,
        history_items=history_items,
        messages=conversation_messages,
        upstream_body=_upstream_body(request, settings, model, messages, sent_tools, chat_choice, bool(server_tools)),
        principal=principal,
        logprobs=LOGPROBS_INCLUDE in (request.include or ()),
        prompt_id=prompt.prompt_id if prompt else "",
        prompt_version=prompt.version if prompt else None,
        prompt_labels=prompt.labels if prompt else (),
        origin=origin,
        started=started,
        previous_response_id=request.previous_response_id or "",
        conversation_id=request.conversation or "",
        server_tools=server_tools,
        max_tool_calls=request.max_tool_calls,
    )


# ------------------------------------------------------------------------------------------ finish
async def _finish(plan: Plan, builder: ResponseBuilder, response: dict, messages: list[dict] | None = None) -> None:
    """After a successful model call: the conversation's new items, then the stored response (with `messages`
    for resumption: the plan's and the model's answer, unless the tool loop gives its own)."""
    if not plan.store:
        return
    if plan.conversation_id:
        # The turn's items, all or none.
        await sync_to_async(conversation_items_add)(
            conversation_id=plan.conversation_id,
            items=[*plan.input_items, *response["output"]],
            principal=plan.principal,
        )
    if messages is None:
        assistant = builder.assistant_message()
        messages = [*plan.messages, *([assistant] if assistant else [])]
    await write_queue("responses").insert(response_row(plan=plan, response=response, messages=messages))


async def _store_failed(plan: Plan, response: dict) -> None:
    if plan.store:
        await write_queue("responses").insert(response_row(plan=plan, response=response, messages=plan.messages))


async def response_create(
    *, request: CreateResponseRequest, principal: Principal = ANONYMOUS, origin: str = "api"
) -> dict | AsyncIterator[bytes]:
    """The response (a dict), or for `stream: true` the SSE byte stream; errors before the model runs raise. A
    background response is stored as queued and computed by the task engine (apps.responses.background).
    `origin` marks where the request came from (the dashboard's playground: `playground`)."""
    plan = await plan_response(request=request, principal=principal, origin=origin)
    if request.background:
        return await background_create(plan)
    builder = ResponseBuilder(
        response_id=plan.response_id,
        created_at=int(plan.created_at.timestamp()),
        echo=plan.echo,
        logprobs=plan.logprobs,
    )
    if plan.server_tools:
        loop = ToolLoop(plan, builder, max_rounds=tools_config().max_rounds)
        return _stream_loop(plan, builder, loop) if plan.stream else await _run_loop(plan, builder, loop)
    if not plan.stream:
        completion = await plan.model.chat(plan.upstream_body)
        builder.from_completion(completion)
        response = builder.response(builder.final_status())
        await _finish(plan, builder, response)
        return response
    chunks = await plan.model.chat_stream(plan.upstream_body)
    return _stream(plan, builder, chunks)


async def _stream(plan: Plan, builder: ResponseBuilder, chunks: AsyncIterator[dict]) -> AsyncIterator[bytes]:
    for event in builder.start():
        yield sse_event(event["type"], event)
    try:
        async for chunk in chunks:
            for event in builder.on_chunk(chunk):
                if plan.first_token_ms is None and event["type"].endswith(".delta"):
                    plan.first_token_ms = round((time.monotonic() - plan.started) * 1000)
                yield sse_event(event["type"], event)
        events = builder.finish()
    except StackAdminError as exc:
        response, event = builder.failed(exc)
        await _stored(_store_failed(plan, response))  # a failure to record the failure is logged; it is told anyway
        yield sse_event(event["type"], event)
        return
    for event in events:
        yield sse_event(event["type"], event)
    response, terminal = builder.terminal(builder.final_status())
    error = await _stored(_finish(plan, builder, response))
    if error is not None:
        _, failed = builder.failed(error)
        yield sse_event(failed["type"], failed)
        return
    yield sse_event(terminal["type"], terminal)


async def _run_loop(plan: Plan, builder: ResponseBuilder, loop: ToolLoop) -> dict:
    """A response with server-side tools, not streamed. A model failure is an HTTP error (nothing stored, as
    without tools); a tool that cannot be set up ends it `failed` (stored so, with the item that says why)."""
    try:
        async for _ in loop.events():
            pass
    except ToolSetupError as exc:
        response, _ = builder.failed(UpstreamError(exc.message, code=exc.code))
        await _store_failed(plan, response)
        return response
    response = builder.response(builder.final_status())
    await _finish(plan, builder, response, loop.stored_messages())
    return response


async def _stream_loop(plan: Plan, builder: ResponseBuilder, loop: ToolLoop) -> AsyncIterator[bytes]:
    """A response with server-side tools, streamed: every failure after the start ends it with `response.failed`."""
    for event in builder.start():
        yield sse_event(event["type"], event)
    try:
        async for event in loop.events():
            if plan.first_token_ms is None and event["type"].endswith(".delta"):
                plan.first_token_ms = round((time.monotonic() - plan.started) * 1000)
            yield sse_event(event["type"], event)
    except (StackAdminError, ToolSetupError) as exc:
        error = exc if isinstance(exc, StackAdminError) else UpstreamError(exc.message, code=exc.code)
        response, event = builder.failed(error)
        await _stored(_store_failed(plan, response))
        yield sse_event(event["type"], event)
        return
    response, terminal = builder.terminal(builder.final_status())
    error = await _stored(_finish(plan, builder, response, loop.stored_messages()))
    if error is not None:
        _, failed = builder.failed(error)
        yield sse_event(failed["type"], failed)
        return
    yield sse_event(terminal["type"], terminal)


async def _stored(write: Awaitable[None]) -> StackAdminError | None:
    """Await a started stream's store write; its failure, whatever raised it (the database's own errors are not
    ours), is returned as the error the stream ends with."""
    try:
        await write
    except Exception as exc:
        return reported_error(exc)
    return None


# ------------------------------------------------------------------------------------------ delete
def response_delete(*, response_id: str, principal: Principal = ANONYMOUS) -> None:
    """The response, and a background response's run and stored events (a run still going stops at its next
    heartbeat)."""
    responses_visible(principal=principal).delete_by_id(response_id, principal=principal, missing=response_not_found)
    BackgroundRun.objects.filter(response_id=response_id).delete()
    ResponseEvent.objects.filter(response_id=response_id).delete()


# ------------------------------------------------------------------------------------------ other ways in
PLAYGROUND = ResponseOrigin.PLAYGROUND  # the `origin` of runs from the dashboard's playground


def response_request(*, body: dict) -> CreateResponseRequest:
    """A create request from a plain body, checked by the same schema as `/v1` (its failure the same 400), for
    ways in other than `/v1` (the dashboard's playground)."""
    try:
        return CreateResponseRequest.model_validate(body)
    except ValidationError as exc:
        raise request_error(exc.errors(), located=False) from exc
