"""`POST /v1/responses/compact`: a long exchange made short, as OpenAI's compaction does.

What is compacted is the chat messages of the `previous_response_id` chain (as stored for resumption), then the
request's `input`. The model is asked for a summary that keeps what the conversation needs to go on; the answer is
OpenAI's shape: every user message (the chain's, then the input's, as items), then one `compaction` item whose
`encrypted_content` carries the summary (signed by this server: `apps.responses.items.compaction_content`). Sent
back as input (after the user messages, or alone), the compaction item is the summary, as a system message.
Nothing is stored.
"""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import sync_to_async

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.items import with_id
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.selectors import model_resolve
from apps.responses import items as conv
from apps.responses.builder import usage_object
from apps.responses.schemas import CompactResponseRequest
from apps.responses.selectors import response_for_resume

INSTRUCTIONS = (
    "You compact conversations. Write a summary of the conversation so far that keeps everything needed to "
    "continue it: the facts, names and numbers given, decisions taken, tool results, and what is still open. "
    "Write only the summary."
)
ASK = "Summarize the conversation above for its continuation."


async def _history(previous_response_id: str | None, principal: Principal) -> list[dict]:
    if not previous_response_id:
        return []
    try:
        previous = await sync_to_async(response_for_resume)(response_id=previous_response_id, principal=principal)
    except BadRequestError as exc:
        if exc.code != "previous_response_not_found":
            raise
        raise NotFoundError(
            f"Response with id '{previous_response_id}' not found.", param="previous_response_id"
        ) from exc
    return list(previous.messages)


def _input_part(part: Any) -> dict:
    """A chat content part as an input content part."""
    if part.get("type") == "image_url":
        return {"type": "input_image", "image_url": (part.get("image_url") or {}).get("url")}
    if part.get("type") == "file":
        file = part.get("file") or {}
        return {"type": "input_file", "file_data": file.get("file_data"), "filename": file.get("filename")}
    return {"type": "input_text", "text": part.get("text", "")}


def _user_item(message: dict) -> dict:
    content = message.get("content")
    parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else list(map(_input_part, content))
    return with_id({"type": "message", "role": "user", "content": parts})


def _summary(completion: dict) -> str:
    choices = completion.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content") or ""


async def response_compact(*, request: CompactResponseRequest, principal: Principal = ANONYMOUS) -> dict:
    model = await model_resolve(model_id=request.model)
    history = await _history(request.previous_response_id, principal)
    input_items = [with_id(item) for item in request.input or ()]
    turn = conv.items_to_messages(input_items, known_calls=conv.tool_call_ids(history))
    conversation = conv.join_turn(history, turn)
    system = [{"role": "system", "content": INSTRUCTIONS}]
    if request.instructions:
        system.append({"role": "system", "content": request.instructions})
    completion = await model.chat(
        {"model": model.provider_model_id, "messages": [*system, *conversation, {"role": "user", "content": ASK}]}
    )
    users = [_user_item(m) for m in history if m.get("role") == "user"]
    users += [item for item in input_items if item["type"] == "message" and item["role"] == "user"]
    compaction = {
        "id": conv.new_output_id("cmp"),
        "type": "compaction",
        "encrypted_content": conv.compaction_content(_summary(completion)),
    }
    return {
        "id": conv.new_output_id("resp"),
        "object": "response.compaction",
        "created_at": int(time.time()),
        "output": [*users, compaction],
        "usage": usage_object(completion.get("usage")),
    }
