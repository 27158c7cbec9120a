"""OpenAI's metadata: at most 16 pairs of strings, keys up to 64 characters, values up to 512.

Conversations, chat completions and responses all take it; `Metadata` is the one definition their schemas use, so
the limits, messages and codes (`object_above_max_properties`, `invalid_metadata_key`, ...) are the same on every
route. Services store what the schema let through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticKnownError

from apps.core.validation import invalid

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
METADATA_DOC = (
    f"Up to {MAX_METADATA_PAIRS} string pairs; keys at most {MAX_METADATA_KEY_CHARS} characters, values at most "
    f"{MAX_METADATA_VALUE_CHARS}."
)


def check_metadata(metadata: Any) -> dict[str, str]:
    """`metadata` if it keeps OpenAI's limits; else the validation error naming the pair that does not."""
    if not isinstance(metadata, Mapping):
        raise PydanticKnownError("dict_type")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise invalid(
            f"at most {MAX_METADATA_PAIRS} key-value pairs; got {len(metadata)}", code="object_above_max_properties"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > MAX_METADATA_KEY_CHARS:
            raise invalid(
                f"keys are non-empty strings of at most {MAX_METADATA_KEY_CHARS} characters; {str(key)[:80]!r} is not",
                code="invalid_metadata_key",
            )
        if not isinstance(value, str):
            raise invalid("metadata values are strings", code="invalid_type", at=(key,))
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise invalid(
                f"{len(value)} characters is over the limit of {MAX_METADATA_VALUE_CHARS}",
                code="string_above_max_length",
                at=(key,),
            )
    return dict(metadata)


Metadata = Annotated[dict[str, str], BeforeValidator(check_metadata), Field(description=METADATA_DOC)]
