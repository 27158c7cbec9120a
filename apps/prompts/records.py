"""Prompt records in the KV store: llama-stack's key layout, the record shape, and template analysis.

Layout (logical keys inside the `prompts` store's namespace, exactly as llama-stack writes them):
    prompts:v1:{prompt_id}:{version}  -> JSON version record
    prompts:v1:{prompt_id}:default    -> decimal version number of the default version
stackadmin adds one key outside that range, `stackadmin:prompts:generation`, changed by every write so that
per-process caches of the prompt list know when to rebuild (llama-stack never reads it).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

PROMPT_ID_RE = re.compile(r"^pmpt_[0-9a-f]{48}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_OPENING_RE = re.compile(r"\{\{(.*?)(?:\}\}|$)", re.DOTALL)
VARIABLE_NAME_RE = re.compile(r"^[^\W\d]\w*$")

MAX_PROMPT_CHARS = 200_000
MAX_VARIABLES = 100
MAX_VARIABLE_NAME_CHARS = 64
MAX_MESSAGE_CHARS = 1_000

ALL_START, ALL_END = "prompts:v1:", "prompts:v1:\xff"
GENERATION_KEY = "stackadmin:prompts:generation"


def new_prompt_id() -> str:
    return "pmpt_" + secrets.token_hex(24)


def version_key(prompt_id: str, version: int) -> str:
    return f"prompts:v1:{prompt_id}:{version}"


def default_key(prompt_id: str) -> str:
    return f"prompts:v1:{prompt_id}:default"


def prompt_range(prompt_id: str) -> tuple[str, str]:
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


def new_generation() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class PromptVersion:
    """One immutable version of a prompt, with `is_default` computed from the default pointer."""

    prompt_id: str
    prompt: str | None
    version: int
    variables: list[str]
    is_default: bool = False
    created_at: float | None = None
    created_by: str | None = None
    message: str | None = None
    owner_principal: str = ""
    access_attributes: dict | None = field(default=None, compare=False)

    @property
    def created(self) -> datetime | None:
        return datetime.fromtimestamp(self.created_at, UTC) if self.created_at is not None else None

    def as_api(self) -> dict:
        """The wire shape: llama-stack's fields in its order, then stackadmin's extras."""
        return {
            "prompt": self.prompt,
            "version": self.version,
            "prompt_id": self.prompt_id,
            "variables": list(self.variables),
            "is_default": self.is_default,
            "created_at": int(self.created_at) if self.created_at is not None else None,
            "created_by": self.created_by,
            "message": self.message,
        }


def encode_record(v: PromptVersion) -> str:
    # `is_default` is stored false, as llama-stack does; the pointer key is the only source of truth.
    return json.dumps(
        {
            "prompt_id": v.prompt_id,
            "prompt": v.prompt,
            "version": v.version,
            "variables": list(v.variables),
            "is_default": False,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "message": v.message,
            "owner_principal": v.owner_principal,
            "access_attributes": v.access_attributes,
        },
        ensure_ascii=False,
    )


def decode_record(raw: str, *, is_default: bool = False) -> PromptVersion:
    data = json.loads(raw)
    return PromptVersion(
        prompt_id=str(data["prompt_id"]),
        prompt=data.get("prompt"),
        version=int(data["version"]),
        variables=[str(v) for v in (data.get("variables") or [])],
        is_default=is_default,
        created_at=data.get("created_at"),
        created_by=data.get("created_by"),
        message=data.get("message"),
        owner_principal=data.get("owner_principal") or "",
        access_attributes=data.get("access_attributes"),
    )


# ------------------------------------------------------------------------------------------ templates
@dataclass(frozen=True)
class Malformed:
    position: int
    snippet: str


@dataclass(frozen=True)
class TemplateAnalysis:
    placeholders: list[str]  # distinct names, in order of first use
    malformed: list[Malformed]

    def undeclared(self, declared: list[str]) -> list[str]:
        known = set(declared)
        return sorted({name for name in self.placeholders if name not in known})


def analyze_template(text: str) -> TemplateAnalysis:
    """Find `{{ name }}` placeholders, and every `{{` that does not open a valid one."""
    names: dict[str, None] = {}
    malformed: list[Malformed] = []
    for match in _OPENING_RE.finditer(text or ""):
        inner = match.group(1)
        closed = match.group(0).endswith("}}")
        name = inner.strip()
        if closed and re.fullmatch(r"\w+", name):
            names.setdefault(name)
        else:
            snippet = match.group(0)
            malformed.append(Malformed(match.start(), snippet if len(snippet) <= 40 else snippet[:37] + "..."))
    return TemplateAnalysis(placeholders=list(names), malformed=malformed)


def render_template(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Substitute the given values; placeholders without a value stay as they are and are reported."""
    missing: dict[str, None] = {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        missing.setdefault(name)
        return match.group(0)

    return PLACEHOLDER_RE.sub(replace, text or ""), list(missing)
