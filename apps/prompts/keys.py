"""Where prompts live in the KV store: llama-stack's key layout, and the ids it is built from.

Layout (logical keys inside the `prompts` store's namespace, exactly as llama-stack writes them):
    prompts:v1:{prompt_id}:{version}  -> JSON version record (apps.prompts.records)
    prompts:v1:{prompt_id}:default    -> decimal version number of the default version
stackadmin adds one key outside that range, `stackadmin:prompts:generation`, changed by every write so that
per-process caches of the prompt list know when to rebuild (llama-stack never reads it).

Every prompt key is built here and nowhere else, so the layout can be checked against llama-stack in one place.
"""

from __future__ import annotations

import re
import secrets

PROMPT_ID_RE = re.compile(r"^pmpt_[0-9a-f]{48}$")

ALL_START, ALL_END = "prompts:v1:", "prompts:v1:\xff"
GENERATION_KEY = "stackadmin:prompts:generation"


def new_prompt_id() -> str:
    return "pmpt_" + secrets.token_hex(24)


def new_generation() -> str:
    return secrets.token_hex(8)


def version_key(prompt_id: str, version: int) -> str:
    return f"prompts:v1:{prompt_id}:{version}"


def default_key(prompt_id: str) -> str:
    return f"prompts:v1:{prompt_id}:default"


def prompt_range(prompt_id: str) -> tuple[str, str]:
    """The (start, end) key range holding every version of one prompt and its default pointer."""
    return f"prompts:v1:{prompt_id}:", f"prompts:v1:{prompt_id}:\xff"


def parse_key(key: str) -> tuple[str, str] | None:
    """`prompts:v1:{id}:{suffix}` -> (id, suffix), where suffix is a version number or "default"."""
    if not key.startswith(ALL_START):
        return None
    rest = key[len(ALL_START) :]
    prompt_id, sep, suffix = rest.rpartition(":")
    if not sep or not prompt_id:
        return None
    return prompt_id, suffix
