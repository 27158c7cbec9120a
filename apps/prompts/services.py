"""Prompt writes. Every version is immutable; new version numbers are claimed atomically in the KV store.

Race-freedom: an update computes `latest + 1` and writes it with `write_batch(require_absent=[that key])`, so of
N concurrent updates quoting the same latest version exactly one claims the number and the others get a 409.
A prompt exists while its default pointer does: every write to an existing prompt (update, set-default) requires
the pointer present in the same atomic batch, and a delete removes the pointer with every version in one batch,
so a write that read the prompt before a delete cannot land after it (the prompt never comes back, and no pointer
or version is left without the other).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from apps.core.access import require_create
from apps.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
)
from apps.core.events import publish
from apps.core.principal import ANONYMOUS, Principal
from apps.prompts.keys import GENERATION_KEY, default_key, new_generation, new_prompt_id, prompt_range, version_key
from apps.prompts.records import PromptVersion, encode_record
from apps.prompts.selectors import (
    can_access,
    latest_version,
    prompt_get,
    prompt_store,
    prompt_version_get,
    validate_prompt_id,
)
from apps.prompts.templating import messages_text, validate_messages, validate_template
from apps.storage.kv import KVBackendError

EVENTS_GROUP = "prompts"
MAX_MESSAGE_CHARS = 1_000


def _validate_message(message: object) -> str | None:
    if message is None or message == "":
        return None
    if not isinstance(message, str):
        raise BadRequestError("Invalid value for 'message': expected a string.", param="message")
    if len(message) > MAX_MESSAGE_CHARS:
        raise BadRequestError(f"Invalid value for 'message': at most {MAX_MESSAGE_CHARS} characters.", param="message")
    return message.strip() or None


def _content(text: str | None, messages: list[dict] | None, variables: object) -> tuple[str, list[str]]:
    """The version's text and declared variables, after the template rules: of the text, or of a chat template
    (whose text is derived from its messages, so `text`, if given too, must be that)."""
    if messages is None:
        if text is None:
            raise BadRequestError(
                "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
            )
        return text, validate_template(text=text, variables=variables)
    declared = validate_messages(messages=messages, variables=variables)
    derived = messages_text(messages)
    if text is not None and text != derived:
        raise BadRequestError(
            "Invalid value for 'prompt': give either 'prompt' (a text template) or 'messages' (a chat template); a "
            "chat template's text is derived from its messages.",
            param="prompt",
        )
    return derived, declared


def _author(principal: Principal, created_by: str | None) -> str | None:
    return created_by or principal.name or None


def _write(
    sets: dict[str, str],
    *,
    require_absent: tuple[str, ...] = (),
    require_present: tuple[str, ...] = (),
    delete_ranges: tuple[tuple[str, str], ...] = (),
) -> bool:
    try:
        return prompt_store().write_batch(
            {**sets, GENERATION_KEY: new_generation()},
            require_absent=require_absent,
            require_present=require_present,
            delete_ranges=delete_ranges,
        )
    except KVBackendError as exc:
        raise StoreUnavailableError(f"The prompt store is unavailable: {exc}") from exc


def prompt_create(
    *,
    text: str | None = None,
    messages: list[dict] | None = None,
    variables: list[str] | None = None,
    settings: Mapping | None = None,
    message: str | None = None,
    principal: Principal = ANONYMOUS,
    created_by: str | None = None,
) -> PromptVersion:
    """Version 1 of a new prompt: a text template (`text`) or a chat template (`messages`, shaped as
    `apps.prompts.schemas.PromptMessage`), with model `settings` as `ModelSettings.given()` makes them."""
    text, declared = _content(text, messages, variables)
    require_create(principal, "prompt")
    record = PromptVersion(
        prompt_id=new_prompt_id(),
        prompt=text,
        messages=messages,
        settings=dict(settings or {}),
        version=1,
        variables=declared,
        is_default=True,
        created_at=time.time(),
        created_by=_author(principal, created_by),
        message=_validate_message(message),
        owner_principal=principal.name,
        access_attributes=principal.attributes,
    )
    key = version_key(record.prompt_id, 1)
    if not _write({key: encode_record(record), default_key(record.prompt_id): "1"}, require_absent=(key,)):
        raise ConflictError("Prompt id collision; retry the request.")  # 192 random bits: not in this universe
    publish(EVENTS_GROUP, {"kind": "created", "prompt_id": record.prompt_id, "version": 1})
    return record


def prompt_update(
    *,
    prompt_id: str,
    text: str | None = None,
    messages: list[dict] | None = None,
    version: int,
    variables: list[str] | None = None,
    settings: Mapping | None = None,
    set_as_default: bool = True,
    message: str | None = None,
    principal: Principal = ANONYMOUS,
    created_by: str | None = None,
) -> PromptVersion:
    """Write version latest+1 with the given content (as `prompt_create` takes it; nothing is inherited).
    `version` must be the latest version the caller saw (optimistic concurrency)."""
    validate_prompt_id(prompt_id)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadRequestError("Invalid value for 'version': must be an integer >= 1.", param="version")
    current = _require(prompt_id, principal, "update")
    latest = latest_version(prompt_id)
    if latest is None:
        raise NotFoundError(f"Prompt '{prompt_id}' not found.", param="prompt_id")
    if version != latest:
        raise _stale(prompt_id, version, latest)
    text, declared = _content(text, messages, variables)
    new = latest + 1
    record = PromptVersion(
        prompt_id=prompt_id,
        prompt=text,
        messages=messages,
        settings=dict(settings or {}),
        version=new,
        variables=declared,
        is_default=set_as_default,
        created_at=time.time(),
        created_by=_author(principal, created_by),
        message=_validate_message(message),
        owner_principal=current.owner_principal,  # a new version never changes who owns the prompt
        access_attributes=current.access_attributes,
    )
    sets = {version_key(prompt_id, new): encode_record(record)}
    if set_as_default:
        sets[default_key(prompt_id)] = str(new)
    if not _write(sets, require_absent=(version_key(prompt_id, new),), require_present=(default_key(prompt_id),)):
        now_latest = latest_version(prompt_id)
        if now_latest is None:  # deleted since we read it
            raise _gone(prompt_id)
        raise _stale(prompt_id, version, now_latest)
    if not set_as_default:
        record = _with_default_flag(record)
    publish(
        EVENTS_GROUP,
        {"kind": "version_created", "prompt_id": prompt_id, "version": new, "is_default": record.is_default},
    )
    return record


def _require(prompt_id: str, principal: Principal, action: str, record: PromptVersion | None = None) -> PromptVersion:
    """The prompt's default version if `principal` may `action` it: 404 when they cannot even see it (exactly
    as if it did not exist), 403 when they can see it but the policy forbids the action."""
    record = record or prompt_get(prompt_id=prompt_id, principal=principal)
    if not can_access(record, principal, action):
        raise PermissionDeniedError(f"You may not {action} prompt '{prompt_id}'.", param="prompt_id")
    return record


def _stale(prompt_id: str, version: int, latest: int) -> ConflictError:
    return ConflictError(
        f"Version {version} is not the latest version of prompt '{prompt_id}': the latest is {latest}. "
        f"Fetch version {latest}, reapply your change, and update with version={latest}.",
        param="version",
        code="version_conflict",
    )


def _gone(prompt_id: str) -> NotFoundError:
    """A prompt deleted between our reads and our write: to the caller it is missing, as it now is."""
    return NotFoundError(f"Prompt '{prompt_id}' not found.", param="prompt_id")


def _with_default_flag(record: PromptVersion) -> PromptVersion:
    current = prompt_store().get(default_key(record.prompt_id))
    is_default = current is not None and current.isdigit() and int(current) == record.version
    return PromptVersion(**{**record.__dict__, "is_default": is_default})


def prompt_version_set_default(*, prompt_id: str, version: int, principal: Principal = ANONYMOUS) -> PromptVersion:
    validate_prompt_id(prompt_id)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadRequestError("Invalid value for 'version': must be an integer >= 1.", param="version")
    record = prompt_version_get(prompt_id=prompt_id, version=version, principal=principal)
    _require(prompt_id, principal, "update", record)
    # Versions go only with the pointer, all at once: while the pointer exists, so does the version just read.
    if not _write({default_key(prompt_id): str(version)}, require_present=(default_key(prompt_id),)):
        raise _gone(prompt_id)
    publish(EVENTS_GROUP, {"kind": "default_changed", "prompt_id": prompt_id, "version": version})
    return PromptVersion(**{**record.__dict__, "is_default": True})


def prompt_delete(*, prompt_id: str, principal: Principal = ANONYMOUS) -> None:
    """Remove every version and the default pointer, in one batch that requires the pointer: of concurrent
    deletes one succeeds, and no update can add a version after it."""
    validate_prompt_id(prompt_id)
    record = _require(prompt_id, principal, "delete")
    if not _write({}, require_present=(default_key(prompt_id),), delete_ranges=(prompt_range(prompt_id),)):
        raise _gone(prompt_id)
    # The owner travels with the event (and no further than the consumers): once the prompt is gone, nothing else
    # says who may hear that it was deleted.
    owner = {"principal": record.owner_principal, "attributes": record.access_attributes}
    publish(EVENTS_GROUP, {"kind": "deleted", "prompt_id": prompt_id, "owner": owner})
