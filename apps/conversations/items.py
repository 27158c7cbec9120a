"""What a conversation item is: the Responses API's item types, checked on their essentials and kept as given.

Every type the Responses API can produce (the OpenAI SDK's `ConversationItem` union) is accepted. Only the
`type` discriminator and the fields an item is useless without are checked; every other field, known or not, is
stored and returned unchanged, so items written by a newer client survive a round trip.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from apps.core.errors import BadRequestError

MAX_ITEMS_PER_ADD = 20
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


def _fail(message: str, param: str) -> BadRequestError:
    return BadRequestError(f"Invalid value for '{param}': {message}", param=param, code="invalid_value")


def _expect(value: Any, kinds: tuple[type, ...], param: str) -> None:
    if not isinstance(value, kinds):
        wanted = " or ".join(_JSON_TYPE_NAMES[k] for k in kinds)
        raise _fail(f"expected {wanted}.", param)


def _check_content_parts(parts: list, param: str) -> None:
    for index, part in enumerate(parts):
        where = f"{param}[{index}]"
        if not isinstance(part, Mapping):
            raise _fail("expected a content part object with a 'type'.", where)
        part_type = part.get("type")
        if part_type not in CONTENT_PART_TYPES:
            raise _fail(
                f"unknown content part type {part_type!r}; expected one of {', '.join(CONTENT_PART_TYPES)}.",
                f"{where}.type",
            )
        text_field = _PART_TEXT_FIELD.get(part_type)
        if text_field is not None:
            if text_field not in part:
                raise BadRequestError(
                    f"Missing required parameter: '{where}.{text_field}'.",
                    param=f"{where}.{text_field}",
                    code="missing_required_parameter",
                )
            _expect(part[text_field], _STR, f"{where}.{text_field}")


def normalize_item(raw: Any, *, param: str) -> dict:
    """Check one item and return the dict to store: the item as given, with `type` and `id` filled in."""
    if not isinstance(raw, Mapping):
        raise _fail("expected an item object.", param)
    item = dict(raw)
    item_type = item.get("type")
    if item_type is None and "role" in item:
        # The Responses API's "easy input message": role and content without a type.
        item_type = item["type"] = "message"
    if item_type is None:
        raise BadRequestError(
            f"Missing required parameter: '{param}.type'.", param=f"{param}.type", code="missing_required_parameter"
        )
    if item_type in _NOT_STORABLE:
        raise _fail(f"{_NOT_STORABLE[item_type]}.", f"{param}.type")
    if item_type not in ITEM_ESSENTIALS:
        shown = item_type if isinstance(item_type, str) and len(item_type) <= 64 else str(item_type)[:61] + "..."
        raise _fail(f"unknown item type {shown!r}; expected one of {', '.join(ITEM_TYPES)}.", f"{param}.type")
    for name, kinds in ITEM_ESSENTIALS[item_type]:
        if name not in item or item[name] is None:
            raise BadRequestError(
                f"Missing required parameter: '{param}.{name}'.",
                param=f"{param}.{name}",
                code="missing_required_parameter",
            )
        _expect(item[name], kinds, f"{param}.{name}")
    if item_type == "message":
        if item["role"] not in MESSAGE_ROLES:
            raise _fail(f"unknown role {item['role']!r}; expected one of {', '.join(MESSAGE_ROLES)}.", f"{param}.role")
        if isinstance(item["content"], list):
            _check_content_parts(item["content"], f"{param}.content")
    item_id = item.get("id")
    if item_id is None:
        item["id"] = new_item_id(item_type)
    else:
        if not isinstance(item_id, str) or not item_id:
            raise _fail("expected a non-empty string.", f"{param}.id")
        if len(item_id) > MAX_ITEM_ID_CHARS:
            raise _fail(f"item ids are at most {MAX_ITEM_ID_CHARS} characters.", f"{param}.id")
        if not ITEM_ID_RE.fullmatch(item_id):
            raise _fail("item ids cannot contain whitespace, control characters or / \\ ? # %.", f"{param}.id")
    return item


def normalize_items(raw: Any, *, param: str = "items", max_items: int | None = None) -> list[dict]:
    if not isinstance(raw, list):
        raise _fail("expected an array of items.", param)
    if max_items is not None and len(raw) > max_items:
        raise BadRequestError(
            f"Invalid value for '{param}': at most {max_items} items can be added at a time; got {len(raw)}.",
            param=param,
            code="array_above_max_length",
        )
    items = [normalize_item(raw_item, param=f"{param}[{index}]") for index, raw_item in enumerate(raw)]
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first = seen.setdefault(item["id"], index)
        if first != index:
            raise BadRequestError(
                f"Duplicate item id {item['id']!r} in '{param}' (at {first} and {index}).",
                param=f"{param}[{index}].id",
                code="duplicate_item_id",
            )
    return items
