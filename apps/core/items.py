"""The Responses API's items (the OpenAI SDK's `ConversationItem` union): what `/v1/conversations` stores and
`/v1/responses` takes as input.

`Item` is a discriminated union on `type` with one model per type the Responses API can produce. Each model
checks only the fields an item is useless without (`ITEM_ESSENTIALS`); every other field, known or not, is allowed,
and the value kept is the object as sent (fields and their order included), so items written by a newer client
survive a round trip. An object with `role` and `content` but no `type` is a message (the API's "easy input
message"). Ids are assigned by the services (`with_id`): a caller's own id is kept verbatim.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    WrapValidator,
    create_model,
)

from apps.core.validation import checked_as_given, invalid, missing

MAX_ITEM_ID_CHARS = 256
# Caller-supplied ids are kept verbatim, but must be addressable as one URL path segment.
ITEM_ID_RE = re.compile(r"^[^\s/\\?#%\x00-\x1f\x7f]+$")

MESSAGE_ROLES = ("user", "assistant", "system", "developer", "tool", "critic", "discriminator", "unknown")
CONTENT_PART_TYPES = (
    "input_text",
    "output_text",
    "text",
    "summary_text",
    "reasoning_text",
    "refusal",
    "input_image",
    "input_file",
    "input_audio",
    "computer_screenshot",
)
_PART_TEXT_FIELD = {
    "input_text": "text",
    "output_text": "text",
    "text": "text",
    "summary_text": "text",
    "reasoning_text": "text",
    "refusal": "refusal",
}

_STR = (str,)
_LIST = (list,)
_STR_OR_LIST = (str, list)
_OBJECT = (dict,)
_BOOL = (bool,)

# type -> the fields it cannot do without, with the JSON types they must have. Fields the Responses API marks
# as required but that only describe progress (`status`) or that we assign (`id`) are not demanded.
ITEM_ESSENTIALS: dict[str, tuple[tuple[str, tuple[type, ...]], ...]] = {
    "message": (("role", _STR), ("content", _STR_OR_LIST)),
    "function_call": (("call_id", _STR), ("name", _STR), ("arguments", _STR)),
    "function_call_output": (("call_id", _STR), ("output", _STR_OR_LIST)),
    "file_search_call": (),
    "web_search_call": (),
    "image_generation_call": (),
    "computer_call": (("call_id", _STR),),
    "computer_call_output": (("call_id", _STR), ("output", _OBJECT)),
    "tool_search_call": (),
    "tool_search_output": (("tools", _LIST),),
    "additional_tools": (("tools", _LIST),),
    "configuration_update": (),
    "reasoning": (("summary", _LIST),),
    "program": (("call_id", _STR), ("code", _STR)),
    "program_output": (("call_id", _STR), ("result", _STR)),
    "compaction": (("encrypted_content", _STR),),
    "code_interpreter_call": (),
    "local_shell_call": (("call_id", _STR), ("action", _OBJECT)),
    "local_shell_call_output": (("output", _STR),),
    "shell_call": (("call_id", _STR), ("action", _OBJECT)),
    "shell_call_output": (("call_id", _STR), ("output", _STR_OR_LIST)),
    "apply_patch_call": (("call_id", _STR), ("operation", _OBJECT)),
    "apply_patch_call_output": (("call_id", _STR),),
    "mcp_list_tools": (("server_label", _STR), ("tools", _LIST)),
    "mcp_approval_request": (("server_label", _STR), ("name", _STR), ("arguments", _STR)),
    "mcp_approval_response": (("approval_request_id", _STR), ("approve", _BOOL)),
    "mcp_call": (("server_label", _STR), ("name", _STR), ("arguments", _STR)),
    "custom_tool_call": (("call_id", _STR), ("name", _STR), ("input", _STR)),
    "custom_tool_call_output": (("call_id", _STR), ("output", _STR_OR_LIST)),
}
ITEM_TYPES = tuple(ITEM_ESSENTIALS)
# Input-only instructions to the Responses API; they describe no conversation content of their own.
_NOT_STORABLE = {
    "item_reference": "an 'item_reference' points at an item instead of holding one; add the item itself",
    "compaction_trigger": "a 'compaction_trigger' asks a response to compact; it is not conversation content",
}
_JSON_TYPE_NAMES = {str: "a string", list: "an array", dict: "an object", bool: "a boolean"}


def new_item_id(item_type: str) -> str:
    return ("msg_" if item_type == "message" else "item_") + secrets.token_hex(24)


def with_id(item: dict) -> dict:
    """The item with its own id, or a copy with a new one (`msg_…` or `item_…` and 48 hex characters)."""
    if item.get("id") is not None:
        return item
    return {**item, "id": new_item_id(item["type"])}


# ------------------------------------------------------------------------------------------ field checks
def _json_type(kinds: tuple[type, ...]) -> AfterValidator:
    wanted = " or ".join(_JSON_TYPE_NAMES[k] for k in kinds)

    def check(value: Any) -> Any:
        if value is None:
            raise missing()
        if not isinstance(value, kinds):
            raise invalid(f"expected {wanted}")
        return value

    return AfterValidator(check)


def _role(value: Any) -> Any:
    if value not in MESSAGE_ROLES:
        raise invalid(f"unknown role {value!r}; expected one of {', '.join(MESSAGE_ROLES)}")
    return value


def _content_part(part: Any, index: int) -> None:
    if not isinstance(part, dict):
        raise invalid("expected a content part object with a 'type'", at=(index,))
    part_type = part.get("type")
    if part_type not in CONTENT_PART_TYPES:
        raise invalid(
            f"unknown content part type {part_type!r}; expected one of {', '.join(CONTENT_PART_TYPES)}",
            at=(index, "type"),
        )
    text_field = _PART_TEXT_FIELD.get(part_type)
    if text_field is None:
        return
    if text_field not in part:
        raise missing(at=(index, text_field))
    if not isinstance(part[text_field], str):
        raise invalid("expected a string", at=(index, text_field))


def _content(value: Any) -> Any:
    if isinstance(value, list):
        for index, part in enumerate(value):
            _content_part(part, index)
    return value


def _item_id(value: Any) -> Any:
    if value is None:
        return value
    if not isinstance(value, str) or not value:
        raise invalid("expected a non-empty string")
    if len(value) > MAX_ITEM_ID_CHARS:
        raise invalid(f"item ids are at most {MAX_ITEM_ID_CHARS} characters")
    if not ITEM_ID_RE.fullmatch(value):
        raise invalid("item ids cannot contain whitespace, control characters or / \\ ? # %")
    return value


# ------------------------------------------------------------------------------------------ the union
class _ItemBase(BaseModel):
    model_config = ConfigDict(extra="allow")


# Checks a message makes beyond the JSON types of its essentials.
_EXTRA_CHECKS = {("message", "role"): (AfterValidator(_role),), ("message", "content"): (AfterValidator(_content),)}


def _item_model(item_type: str, essentials: tuple[tuple[str, tuple[type, ...]], ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {"type": (Literal[item_type], ...)}
    for name, kinds in essentials:
        fields[name] = (Annotated[Any, _json_type(kinds), *_EXTRA_CHECKS.get((item_type, name), ())], ...)
    # Checked last, as the essentials come first in the order an item's mistakes are reported.
    fields["id"] = (Annotated[Any, AfterValidator(_item_id)], None)
    name = "".join(word.capitalize() for word in item_type.split("_")) + "Item"
    return create_model(name, __base__=_ItemBase, **fields)


ITEM_MODELS: dict[str, type[BaseModel]] = {t: _item_model(t, essentials) for t, essentials in ITEM_ESSENTIALS.items()}


def _item_type(raw: Any) -> Any:
    """The item's `type` checked before its model is chosen (an easy input message gets `"type": "message"`)."""
    if not isinstance(raw, dict):
        raise invalid("expected an item object")
    item_type = raw.get("type")
    if item_type is None and "role" in raw:
        return {**raw, "type": "message"}
    if item_type is None:
        raise missing(at=("type",))
    if isinstance(item_type, str) and item_type in _NOT_STORABLE:
        raise invalid(_NOT_STORABLE[item_type], at=("type",))
    if not isinstance(item_type, str) or item_type not in ITEM_ESSENTIALS:
        shown = item_type if isinstance(item_type, str) and len(item_type) <= 64 else str(item_type)[:61] + "..."
        raise invalid(f"unknown item type {shown!r}; expected one of {', '.join(ITEM_TYPES)}", at=("type",))
    return raw


Item = Annotated[
    Union[tuple(ITEM_MODELS.values())],  # noqa: UP007
    Discriminator("type"),
    WrapValidator(checked_as_given),
    BeforeValidator(_item_type),
]
