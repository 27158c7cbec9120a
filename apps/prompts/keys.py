"""Where prompts live in the KV store: llama-stack's key layout, and the ids it is built from.

Layout (logical keys inside the `prompts` store's namespace, exactly as llama-stack writes them):
    prompts:v1:{prompt_id}:{version}  -> JSON version record (apps.prompts.records)
    prompts:v1:{prompt_id}:default    -> decimal version number of the default version
stackadmin adds keys outside that range, which llama-stack never reads:
    stackadmin:prompts:generation                         -> changed by every write, so that per-process caches
                                                             of the prompt list know when to rebuild
    stackadmin:prompt-labels:v1:{prompt_id}:{label}        -> decimal version number the label points at
    stackadmin:prompt-labels:v1:{prompt_id}:               -> changed by every label move (no label is named "")
    stackadmin:prompt-deleted:v1:{prompt_id}:{version}     -> present once that version is deleted
    stackadmin:prompt-history:v1:all:{stamp}              -> JSON history entry (apps.prompts.records)
    stackadmin:prompt-history:v1:prompt:{prompt_id}:{stamp} -> the same entry, for one prompt's history
A stamp is the time in nanoseconds (20 digits) and 8 random hex characters, so entries sort by time. History keys
are never deleted or rewritten: they outlive their prompt.

Every prompt key is built here and nowhere else, so the layout can be checked against llama-stack in one place.
"""

from __future__ import annotations

import re
import secrets
import time

PROMPT_ID_RE = re.compile(r"^pmpt_[0-9a-f]{48}$")

ALL_START, ALL_END = "prompts:v1:", "prompts:v1:\xff"
GENERATION_KEY = "stackadmin:prompts:generation"
LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,35}$")
LABELS_START, LABELS_END = "stackadmin:prompt-labels:v1:", "stackadmin:prompt-labels:v1:\xff"
_HISTORY = "stackadmin:prompt-history:v1:"
HISTORY_START, HISTORY_END = _HISTORY + "all:", _HISTORY + "all:\xff"


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


def label_key(prompt_id: str, label: str) -> str:
    return f"{LABELS_START}{prompt_id}:{label}"


def labels_generation_key(prompt_id: str) -> str:
    """Changed by every move or removal of one of the prompt's labels, so a version delete can require that none
    happened since it looked (it lies in `label_range`, so it goes with the prompt's labels)."""
    return f"{LABELS_START}{prompt_id}:"


def deleted_key(prompt_id: str, version: int) -> str:
    """Present once `version` is deleted: moves onto it require it absent (the version's own key stays, as a
    tombstone, so its presence says nothing)."""
    return f"stackadmin:prompt-deleted:v1:{prompt_id}:{version}"


def deleted_range(prompt_id: str) -> tuple[str, str]:
    return f"stackadmin:prompt-deleted:v1:{prompt_id}:", f"stackadmin:prompt-deleted:v1:{prompt_id}:\xff"


def label_range(prompt_id: str) -> tuple[str, str]:
    """The (start, end) key range holding one prompt's labels."""
    return f"{LABELS_START}{prompt_id}:", f"{LABELS_START}{prompt_id}:\xff"


def parse_label_key(key: str) -> tuple[str, str] | None:
    """`stackadmin:prompt-labels:v1:{id}:{label}` -> (id, label)."""
    if not key.startswith(LABELS_START):
        return None
    prompt_id, sep, label = key[len(LABELS_START) :].partition(":")
    return (prompt_id, label) if sep and prompt_id and label else None


def new_history_stamp() -> str:
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}"


def history_keys(prompt_id: str, stamp: str) -> tuple[str, str]:
    """The two keys of one history entry: in the global history and in the prompt's own."""
    return f"{HISTORY_START}{stamp}", f"{_HISTORY}prompt:{prompt_id}:{stamp}"


def history_range(prompt_id: str) -> tuple[str, str]:
    return f"{_HISTORY}prompt:{prompt_id}:", f"{_HISTORY}prompt:{prompt_id}:\xff"


def history_stamp(key: str) -> str:
    return key.rpartition(":")[2]
