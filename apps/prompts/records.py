"""The prompt version record: its shape, and its JSON form in the KV store (llama-stack's fields, plus owner).

Where records live is apps.prompts.keys; what their template text means is apps.prompts.templating.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.core.model_settings import SETTING_NAMES


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
    messages: list[dict] | None = None  # a chat template; then `prompt` is its text (apps.prompts.templating)
    settings: dict = field(default_factory=dict)  # the model settings that are set (apps.core.model_settings)
    labels: tuple[str, ...] = ()  # the labels pointing at this version, besides `default` (read with it)
    deleted: bool = False  # a deleted version's record stays, without content, so its number is never reused

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

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
            "labels": [*(["default"] if self.is_default else []), *sorted(self.labels)],
            "messages": self.messages,
            **{name: self.settings.get(name) for name in SETTING_NAMES},
        }


def versions_body(versions: Iterable[PromptVersion]) -> dict:
    """llama-stack's body for a list of prompts or of one prompt's versions: `{"data": [...]}`, without OpenAI's
    list envelope (which paged listings get from apps.core.http)."""
    return {"data": [v.as_api() for v in versions]}


def encode_record(v: PromptVersion) -> str:
    # `is_default` is stored false, as llama-stack does; the pointer key is the only source of truth. A text
    # prompt's record has llama-stack's fields and stackadmin's extras only; a chat template and model settings
    # are further top-level fields, which llama-stack ignores (it reads the `prompt` text).
    chat = {"messages": v.messages} if v.messages is not None else {}
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
            **chat,
            **v.settings,
        },
        ensure_ascii=False,
    )


def encode_tombstone(v: PromptVersion, *, deleted_at: float, deleted_by: str | None) -> str:
    """What stays of a deleted version: its number and owner, no content. llama-stack reads it as a version
    without text; stackadmin as a deleted one."""
    return json.dumps(
        {
            "prompt_id": v.prompt_id,
            "prompt": None,
            "version": v.version,
            "variables": [],
            "is_default": False,
            "created_at": v.created_at,
            "created_by": v.created_by,
            "owner_principal": v.owner_principal,
            "access_attributes": v.access_attributes,
            "deleted": True,
            "deleted_at": deleted_at,
            "deleted_by": deleted_by,
        },
        ensure_ascii=False,
    )


def decode_record(raw: str, *, is_default: bool = False, labels: tuple[str, ...] = ()) -> PromptVersion:
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
        messages=data.get("messages"),
        settings={name: data[name] for name in SETTING_NAMES if data.get(name) is not None},
        labels=labels,
        deleted=data.get("deleted") is True,
    )


# ------------------------------------------------------------------------------------------ history
HISTORY_ACTIONS = (
    "created",
    "version_created",
    "default_moved",
    "label_moved",
    "label_removed",
    "version_deleted",
    "deleted",
    "move_refused",
    "imported",
)


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a prompt, recorded in the same atomic write as the change itself (a refused
    move, which changes nothing, on its own). Entries carry the prompt's owner, so access to them follows the
    prompt's, also once the prompt is gone."""

    id: str
    prompt_id: str
    action: str
    created_at: float
    actor: str | None = None  # who: a user name; None for an anonymous caller
    via: str | None = None  # how: "api key sk-sa-…", "dashboard", "admin"
    version: int | None = None
    from_version: int | None = None
    label: str | None = None
    message: str | None = None
    owner_principal: str = ""
    access_attributes: dict | None = field(default=None, compare=False)

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_at, UTC)

    def as_api(self) -> dict:
        return {
            "id": self.id,
            "object": "prompt.history_entry",
            "prompt_id": self.prompt_id,
            "action": self.action,
            "actor": self.actor,
            "via": self.via,
            "created_at": int(self.created_at),
            "version": self.version,
            "from_version": self.from_version,
            "label": self.label,
            "message": self.message,
        }


def encode_history(entry: HistoryEntry) -> str:
    return json.dumps(
        {
            **entry.as_api(),
            "created_at": entry.created_at,
            "owner_principal": entry.owner_principal,
            "access_attributes": entry.access_attributes,
        },
        ensure_ascii=False,
    )


def decode_history(raw: str) -> HistoryEntry:
    data = json.loads(raw)
    return HistoryEntry(
        id=str(data["id"]),
        prompt_id=str(data["prompt_id"]),
        action=str(data["action"]),
        created_at=float(data["created_at"]),
        actor=data.get("actor"),
        via=data.get("via"),
        version=data.get("version"),
        from_version=data.get("from_version"),
        label=data.get("label"),
        message=data.get("message"),
        owner_principal=data.get("owner_principal") or "",
        access_attributes=data.get("access_attributes"),
    )
