"""Prompt writes. Every version is immutable; new version numbers are claimed atomically in the KV store.

Race-freedom: an update computes `latest + 1` and writes it with `write_batch(require_absent=[that key])`, so of
N concurrent updates quoting the same latest version exactly one claims the number and the others get a 409.
A prompt exists while its default pointer does: every write to an existing prompt (update, set-default) requires
the pointer present in the same atomic batch, and a delete removes the pointer with every version in one batch,
so a write that read the prompt before a delete cannot land after it (the prompt never comes back, and no pointer
or version is left without the other).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from apps.core.access import may_promote, require_create
from apps.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StackAdminError,
)
from apps.core.events import publish
from apps.core.principal import ANONYMOUS, Principal
from apps.prompts.config import prompts_config
from apps.prompts.keys import (
    GENERATION_KEY,
    default_key,
    deleted_key,
    deleted_range,
    history_keys,
    label_key,
    label_range,
    labels_generation_key,
    new_generation,
    new_history_stamp,
    new_prompt_id,
    prompt_range,
    version_key,
)
from apps.prompts.records import HistoryEntry, PromptVersion, encode_history, encode_record, encode_tombstone
from apps.prompts.selectors import (
    PromptDump,
    can_access,
    latest_version,
    prompt_dump,
    prompt_get,
    prompt_labels,
    prompt_store,
    prompt_version_get,
    store_call,
    validate_label,
    validate_prompt_id,
)
from apps.prompts.templating import messages_text, validate_messages, validate_template
from apps.prompts.transfer import ArchivePrompt, ArchiveVersion, TransferError, import_source, read_archives, shown

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


def _history(
    action: str, record: PromptVersion, principal: Principal, created_by: str | None = None, **fields
) -> dict[str, str]:
    """The keys of one history entry about `record`'s prompt, to write in the same batch as the change."""
    stamp = new_history_stamp()
    entry = HistoryEntry(
        id=f"phe_{stamp.replace('-', '')}",
        prompt_id=record.prompt_id,
        action=action,
        created_at=time.time(),
        actor=_author(principal, created_by),
        via=principal.via,
        owner_principal=record.owner_principal,
        access_attributes=record.access_attributes,
        **fields,
    )
    raw = encode_history(entry)
    return dict.fromkeys(history_keys(record.prompt_id, stamp), raw)


def _write(
    sets: dict[str, str],
    *,
    require_absent: tuple[str, ...] = (),
    require_present: tuple[str, ...] = (),
    require_values: dict[str, str] | None = None,
    deletes: tuple[str, ...] = (),
    delete_ranges: tuple[tuple[str, str], ...] = (),
) -> bool:
    return store_call(
        prompt_store().write_batch,
        {**sets, GENERATION_KEY: new_generation()},
        require_absent=require_absent,
        require_present=require_present,
        require_values=require_values,
        deletes=deletes,
        delete_ranges=delete_ranges,
    )


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
    history = _history("created", record, principal, created_by, version=1, message=record.message)
    if not _write({key: encode_record(record), default_key(record.prompt_id): "1", **history}, require_absent=(key,)):
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
    sets = {
        version_key(prompt_id, new): encode_record(record),
        **_history("version_created", record, principal, created_by, version=new, message=record.message),
    }
    if set_as_default:
        _check_promotion(current, "default", principal, version=new)
        sets[default_key(prompt_id)] = str(new)
        sets.update(_history("default_moved", record, principal, created_by, version=new, from_version=current.version))
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


def _check_promotion(record: PromptVersion, label: str, principal: Principal, *, version: int | None = None) -> None:
    """403 when `label` is protected and `principal` may not `promote`; the refusal is recorded."""
    if label not in prompts_config().protected_labels:
        return
    if may_promote(
        principal, "prompt", record.prompt_id, owner=record.owner_principal, owner_attributes=record.access_attributes
    ):
        return
    _write(_history("move_refused", record, principal, label=label, version=version, from_version=None))
    # Nothing changed, but the history did: open timelines and activity pages show the refusal too.
    publish(EVENTS_GROUP, {"kind": "move_refused", "prompt_id": record.prompt_id, "label": label})
    raise PermissionDeniedError(
        f"'{label}' is a protected label of prompt '{record.prompt_id}': moving it needs the 'promote' permission.",
        param="label",
        code="protected_label",
    )


def prompt_version_set_default(
    *, prompt_id: str, version: int, principal: Principal = ANONYMOUS, message: str | None = None
) -> PromptVersion:
    validate_prompt_id(prompt_id)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadRequestError("Invalid value for 'version': must be an integer >= 1.", param="version")
    record = prompt_version_get(prompt_id=prompt_id, version=version, principal=principal)
    current = _require(prompt_id, principal, "update")
    _check_promotion(current, "default", principal, version=version)
    history = _history(
        "default_moved",
        record,
        principal,
        version=version,
        from_version=current.version,
        message=_validate_message(message),
    )
    # Versions go only with the pointer, all at once: while the pointer exists, so does the version just read.
    # (Only the pointer is required: every write to a prompt locks it first, so they cannot deadlock.)
    if not _write(
        {default_key(prompt_id): str(version), **history},
        require_present=(default_key(prompt_id),),
        require_absent=(deleted_key(prompt_id, version),),
    ):
        raise _moved_onto_deleted(prompt_id, version)
    publish(EVENTS_GROUP, {"kind": "default_changed", "prompt_id": prompt_id, "version": version})
    return PromptVersion(**{**record.__dict__, "is_default": True})


def _movable(label: str) -> str:
    validate_label(label)
    if label == "latest":
        raise BadRequestError(
            "Invalid value for 'label': 'latest' is computed (the newest version) and cannot be set or removed.",
            param="label",
            code="invalid_label",
        )
    return label


def prompt_label_move(
    *, prompt_id: str, label: str, version: int, principal: Principal = ANONYMOUS, message: str | None = None
) -> PromptVersion:
    """Point `label` at `version` (`default` is the default pointer). Protected labels need `promote`."""
    validate_prompt_id(prompt_id)
    if _movable(label) == "default":
        return prompt_version_set_default(prompt_id=prompt_id, version=version, principal=principal, message=message)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadRequestError("Invalid value for 'version': must be an integer >= 1.", param="version")
    record = prompt_version_get(prompt_id=prompt_id, version=version, principal=principal)
    current = _require(prompt_id, principal, "update")
    _check_promotion(current, label, principal, version=version)
    before = prompt_labels(prompt_id).get(label)
    history = _history(
        "label_moved",
        record,
        principal,
        version=version,
        from_version=before,
        label=label,
        message=_validate_message(message),
    )
    sets = {label_key(prompt_id, label): str(version), labels_generation_key(prompt_id): new_generation(), **history}
    if not _write(sets, require_present=(default_key(prompt_id),), require_absent=(deleted_key(prompt_id, version),)):
        raise _moved_onto_deleted(prompt_id, version)
    publish(EVENTS_GROUP, {"kind": "label_moved", "prompt_id": prompt_id, "label": label, "version": version})
    return PromptVersion(**{**record.__dict__, "labels": tuple(sorted({*record.labels, label}))})


def prompt_label_remove(
    *, prompt_id: str, label: str, principal: Principal = ANONYMOUS, message: str | None = None
) -> None:
    validate_prompt_id(prompt_id)
    if _movable(label) == "default":
        raise ConflictError(
            "The 'default' label cannot be removed: every prompt has a default version. Move it instead.",
            param="label",
            code="default_label",
        )
    current = _require(prompt_id, principal, "update")
    before = prompt_labels(prompt_id).get(label)
    if before is None:
        raise NotFoundError(f"Prompt '{prompt_id}' has no label '{label}'.", param="label", code="label_not_found")
    _check_promotion(current, label, principal)
    history = _history(
        "label_removed", current, principal, from_version=before, label=label, message=_validate_message(message)
    )
    if not _write(
        {labels_generation_key(prompt_id): new_generation(), **history},
        require_present=(default_key(prompt_id), label_key(prompt_id, label)),
        deletes=(label_key(prompt_id, label),),
    ):
        raise _gone(prompt_id)
    publish(EVENTS_GROUP, {"kind": "label_removed", "prompt_id": prompt_id, "label": label})


def prompt_version_delete(
    *, prompt_id: str, version: int, principal: Principal = ANONYMOUS, message: str | None = None
) -> None:
    """Delete one version's content; its record stays as a tombstone so the number is never used again. Refused
    (409) while the default or a label points at it, also when one is moved onto it while this runs: the write
    requires the default pointer and the labels' generation to be what was read before looking at them."""
    validate_prompt_id(prompt_id)
    store = prompt_store()
    pointer = store_call(store.get, default_key(prompt_id))
    labels_seen = store_call(store.get, labels_generation_key(prompt_id))
    record = prompt_version_get(prompt_id=prompt_id, version=version, principal=principal)
    current = _require(prompt_id, principal, "delete")
    pointing = ["default"] if record.is_default else []
    pointing += list(record.labels)
    if pointing:
        raise _in_use(prompt_id, version, pointing)
    tombstone = encode_tombstone(record, deleted_at=time.time(), deleted_by=_author(principal, None))
    history = _history("version_deleted", current, principal, version=version, message=_validate_message(message))
    unchanged = {default_key(prompt_id): pointer or ""}
    if labels_seen is not None:
        unchanged[labels_generation_key(prompt_id)] = labels_seen
    if not _write(
        {version_key(prompt_id, version): tombstone, deleted_key(prompt_id, version): "1", **history},
        require_values=unchanged,
        require_absent=() if labels_seen is not None else (labels_generation_key(prompt_id),),
    ):
        if latest_version(prompt_id) is None:
            raise _gone(prompt_id)
        raise ConflictError(
            f"The default or a label of prompt '{prompt_id}' moved while version {version} was being deleted; "
            "nothing was deleted. Check where they point and try again.",
            param="version",
            code="version_in_use",
        )
    publish(EVENTS_GROUP, {"kind": "version_deleted", "prompt_id": prompt_id, "version": version})


def _moved_onto_deleted(prompt_id: str, version: int) -> NotFoundError:
    """Why a move's write failed: the prompt is gone, or the version was deleted meanwhile."""
    if latest_version(prompt_id) is None:
        return _gone(prompt_id)
    return NotFoundError(f"Prompt '{prompt_id}' version {version} was deleted.", param="version")


def _in_use(prompt_id: str, version: int, pointing: list[str]) -> ConflictError:
    return ConflictError(
        f"Version {version} of prompt '{prompt_id}' cannot be deleted while {', '.join(repr(p) for p in pointing)} "
        f"point{'s' if len(pointing) == 1 else ''} at it. Move {'it' if len(pointing) == 1 else 'them'} first.",
        param="version",
        code="version_in_use",
    )


def prompt_delete(*, prompt_id: str, principal: Principal = ANONYMOUS, message: str | None = None) -> None:
    """Remove every version, the default pointer and the labels, in one batch that requires the pointer: of
    concurrent deletes one succeeds, and no update can add a version after it. The history stays."""
    validate_prompt_id(prompt_id)
    record = _require(prompt_id, principal, "delete")
    history = _history("deleted", record, principal, version=record.version, message=_validate_message(message))
    if not _write(
        history,
        require_present=(default_key(prompt_id),),
        delete_ranges=(prompt_range(prompt_id), label_range(prompt_id), deleted_range(prompt_id)),
    ):
        raise _gone(prompt_id)
    # The owner travels with the event (and no further than the consumers): once the prompt is gone, nothing else
    # says who may hear that it was deleted.
    owner = {"principal": record.owner_principal, "attributes": record.access_attributes}
    publish(EVENTS_GROUP, {"kind": "deleted", "prompt_id": prompt_id, "owner": owner})


# ------------------------------------------------------------------------------------------ import
ON_CONFLICT = ("skip", "new-version", "fail")
IMPORT_VIA = "import"


@dataclass(frozen=True)
class ImportOutcome:
    """What importing one prompt did (or, in a dry run, would do): `created` the prompt, `added` versions to it,
    `skipped` it (already there with the same content, or a conflict under `--on-conflict skip`)."""

    prompt_id: str
    action: str
    versions: tuple[int, ...] = ()
    reason: str = ""


def _content_of(v: ArchiveVersion | PromptVersion) -> tuple:
    if v.deleted:
        return (True,)
    return (False, v.prompt, v.messages, list(v.variables), dict(v.settings))


def _signature(v: ArchiveVersion | PromptVersion) -> str:
    """Content, author and time: what a version appended by `new-version` keeps of its source, so that importing
    the same source again finds it already there."""
    return json.dumps([*_content_of(v), v.created_at, v.created_by], sort_keys=True)


def _imported_record(v: ArchiveVersion, prompt_id: str, number: int, owner: str, attributes: dict | None) -> str:
    record = PromptVersion(
        prompt_id=prompt_id,
        prompt=v.prompt,
        messages=v.messages,
        settings=dict(v.settings),
        version=number,
        variables=list(v.variables),
        created_at=v.created_at,
        created_by=v.created_by,
        message=v.message,
        owner_principal=owner,
        access_attributes=attributes,
    )
    if v.deleted:
        return encode_tombstone(record, deleted_at=time.time(), deleted_by=None)
    return encode_record(record)


def _importer_via(importer: Principal | None) -> str:
    """How an imported version came: `import` (the command: whoever runs it holds the store), or which way in and who
    imported it (`dashboard import by alice`, `admin import by root`)."""
    if importer is None or importer.is_anonymous:
        return IMPORT_VIA
    return f"{importer.via + ' ' if importer.via else ''}{IMPORT_VIA} by {importer.name}"


def _import_history(
    prompt_id: str,
    number: int,
    v: ArchiveVersion,
    owner: str,
    attributes: dict | None,
    source: str,
    importer: Principal | None,
):
    """An `imported` entry for one version: its actor is the version's original author, its `via` says who imported
    it (and how)."""
    stamp = new_history_stamp()
    entry = HistoryEntry(
        id=f"phe_{stamp.replace('-', '')}",
        prompt_id=prompt_id,
        action="imported",
        created_at=time.time(),
        actor=v.created_by,
        via=_importer_via(importer),
        version=number,
        from_version=v.version if number != v.version else None,
        message=f"imported from {source}"[:MAX_MESSAGE_CHARS] if source else None,
        owner_principal=owner,
        access_attributes=attributes,
    )
    return dict.fromkeys(history_keys(prompt_id, stamp), encode_history(entry))


def _archived_history(prompt: ArchivePrompt, owner: str, attributes: dict | None) -> dict[str, str]:
    """A new prompt's exported history, under its original stamps (so importing it twice writes the same keys)."""
    sets: dict[str, str] = {}
    for e in prompt.history:
        entry = HistoryEntry(
            **e.model_dump(), prompt_id=prompt.prompt_id, owner_principal=owner, access_attributes=attributes
        )
        sets.update(dict.fromkeys(history_keys(prompt.prompt_id, e.stamp), encode_history(entry)))
    return sets


def _version_sets(
    prompt_id: str,
    placed: list[tuple[int, ArchiveVersion]],
    owner: str,
    attributes,
    source: str,
    importer: Principal | None,
):
    sets: dict[str, str] = {}
    for number, v in placed:
        sets[version_key(prompt_id, number)] = _imported_record(v, prompt_id, number, owner, attributes)
        sets.update(_import_history(prompt_id, number, v, owner, attributes, source, importer))
        if v.deleted:  # marked as a version delete marks it, so no move can land on it
            sets[deleted_key(prompt_id, number)] = "1"
    return sets


def _new_owner(prompt: ArchivePrompt, owner: str | None, importer: Principal | None) -> tuple[str, dict | None]:
    """Who owns a prompt an import creates: the user importing it (the dashboard), else `owner`, else the
    archive's owner (the command; an operator in the admin)."""
    if importer is not None and not importer.operator:
        return importer.name, importer.attributes
    if owner is not None:
        return owner, None
    return prompt.owner_principal, prompt.access_attributes


def _may_create(prompt: ArchivePrompt, owner: str, attributes: dict | None, importer: Principal | None) -> None:
    """A user's import creates a prompt as `prompt_create` does (the policy's `create` rules), and sets its
    protected labels only if they could move them on it afterwards (`promote`). An operator restores an archive
    as the command does."""
    if importer is None or importer.operator:
        return
    require_create(importer, "prompt")
    protected = set(prompts_config().protected_labels) - {"default"}
    for label in sorted(protected & set(prompt.labels)):
        if not may_promote(importer, "prompt", prompt.prompt_id, owner=owner, owner_attributes=attributes):
            raise PermissionDeniedError(
                f"Prompt '{prompt.prompt_id}' sets the protected label '{label}': that needs the 'promote' permission.",
                param="label",
                code="protected_label",
            )


def _import_new(
    prompt: ArchivePrompt, owner: str | None, source: str, dry_run: bool, importer: Principal | None
) -> ImportOutcome:
    pid = prompt.prompt_id
    principal, attributes = _new_owner(prompt, owner, importer)
    _may_create(prompt, principal, attributes, importer)
    placed = [(v.version, v) for v in prompt.versions]
    outcome = ImportOutcome(pid, "created", tuple(n for n, _ in placed))
    if dry_run:
        return outcome
    sets = _version_sets(pid, placed, principal, attributes, source, importer)
    sets.update(_archived_history(prompt, principal, attributes))
    sets[default_key(pid)] = str(prompt.default)
    sets.update({label_key(pid, label): str(number) for label, number in prompt.labels.items()})
    keys = (default_key(pid), *(version_key(pid, n) for n, _ in placed))
    if not _write(sets, require_absent=keys):
        raise ConflictError(f"Prompt '{pid}' was written while it was being imported; import again.")
    publish(EVENTS_GROUP, {"kind": "created", "prompt_id": pid, "version": prompt.default})
    return outcome


def _appended(prompt: ArchivePrompt, dump: PromptDump, first_conflict: int) -> list[tuple[int, ArchiveVersion]]:
    """Under `new-version`: the imported versions from the first conflicting one on, numbered after the latest,
    except those a previous import already appended (same content, author and time) and deleted ones."""
    there = {_signature(v) for v in dump.versions if not v.deleted}
    todo = [v for v in prompt.versions if v.version >= first_conflict and not v.deleted]
    todo = [v for v in todo if _signature(v) not in there]
    latest = dump.versions[-1].version
    return [(latest + i, v) for i, v in enumerate(todo, start=1)]


def _placed(prompt: ArchivePrompt, dump: PromptDump, on_conflict: str) -> list[tuple[int, ArchiveVersion]] | str:
    """The (number, version) pairs to add to an existing prompt, or why nothing is added."""
    have = {v.version: v for v in dump.versions}
    conflicts = [
        v.version for v in prompt.versions if v.version in have and _content_of(v) != _content_of(have[v.version])
    ]
    if not conflicts:
        return [(v.version, v) for v in prompt.versions if v.version not in have] or "already imported"
    if on_conflict == "fail":
        raise ConflictError(
            f"Prompt '{prompt.prompt_id}' exists and its version {conflicts[0]} differs from the imported one.",
            code="import_conflict",
        )
    if on_conflict == "skip":
        return f"version {conflicts[0]} differs (--on-conflict skip)"
    return _appended(prompt, dump, conflicts[0]) or "already imported"


def _refused_import(prompt_id: str) -> PermissionDeniedError:
    # The same words whether the user cannot read the prompt or may read but not change it.
    return PermissionDeniedError(f"You may not add versions to prompt '{prompt_id}'.", param="prompt_id")


def _import_into(
    prompt: ArchivePrompt,
    dump: PromptDump,
    on_conflict: str,
    source: str,
    dry_run: bool,
    importer: Principal | None,
) -> ImportOutcome:
    """Versions added to an existing prompt: a user needs the permission a new version needs (`update`), and
    someone who may not read the prompt learns nothing of its content (not even that it is the same)."""
    pid = prompt.prompt_id
    owner = dump.versions[0]  # every version carries the owner; new versions never change who owns the prompt
    if importer is not None and not can_access(owner, importer, "read"):
        raise _refused_import(pid)
    placed = _placed(prompt, dump, on_conflict)
    if isinstance(placed, str):
        return ImportOutcome(pid, "skipped", reason=placed)
    if importer is not None and not can_access(owner, importer, "update"):
        raise _refused_import(pid)
    outcome = ImportOutcome(pid, "added", tuple(n for n, _ in placed))
    if dry_run:
        return outcome
    sets = _version_sets(pid, placed, owner.owner_principal, owner.access_attributes, source, importer)
    new_keys = tuple(version_key(pid, n) for n, _ in placed)
    if not _write(sets, require_absent=new_keys, require_present=(default_key(pid),)):
        raise ConflictError(f"Prompt '{pid}' changed while it was being imported; import again.")
    for number, _ in placed:
        publish(EVENTS_GROUP, {"kind": "version_created", "prompt_id": pid, "version": number, "is_default": False})
    return outcome


def prompt_import(
    *,
    prompt: ArchivePrompt,
    on_conflict: str = "new-version",
    owner: str | None = None,
    source: str = "",
    dry_run: bool = False,
    principal: Principal | None = None,
) -> ImportOutcome:
    """Import one checked archive prompt (apps.prompts.transfer.check_prompt), keeping its id, version numbers,
    authors and times. A new prompt is written whole (versions, default, labels, an `imported` history entry per
    version) in one atomic batch that requires every key absent; into an existing prompt only versions it lacks
    are added, in one batch, leaving its default, labels and owner alone. Importing the same prompt again adds
    nothing. `owner` (a user name) replaces the archive's owner of a new prompt.

    `principal` is who imports, when a person does (the dashboard, an operator in the admin): the access policy
    then decides, as for `prompt_create` and `prompt_update`, whether they may create the prompt or add versions to
    it (a PermissionDeniedError otherwise, also in a dry run); a prompt a user's import creates is theirs (an
    operator's keeps the archive's owner, or `owner`); and each version's history entry says who imported it. The
    command passes none: whoever runs it holds the store's credentials."""
    if on_conflict not in ON_CONFLICT:
        raise BadRequestError(f"Invalid value for 'on_conflict': expected one of {', '.join(ON_CONFLICT)}.")
    dump = prompt_dump(prompt_id=prompt.prompt_id)
    if dump is None:
        return _import_new(prompt, owner, source, dry_run, principal)
    return _import_into(prompt, dump, on_conflict, source, dry_run, principal)


# ------------------------------------------------------------------------------------------ import a whole archive
@dataclass(frozen=True)
class ImportRow:
    """One line of an import's report: a prompt of the archive and what became (or would become) of it, `created`,
    `added`, `skipped`, `refused` (the access policy), `failed` (a conflict under `fail`, a concurrent write) or
    `invalid` (the archive's problem with it), or `unreadable` (the file itself: no prompt)."""

    file: str
    prompt_id: str | None
    action: str
    versions: tuple[int, ...] = ()
    reason: str = ""
    origin: str = ""  # the foreign prompt it came from ("Langfuse prompt 'support/agent'")
    notes: tuple[str, ...] = ()  # what the conversion from a foreign format changed or left out

    @property
    def problem(self) -> bool:
        return self.action in ("refused", "failed", "invalid", "unreadable")

    @property
    def written(self) -> bool:
        return self.action in ("created", "added")


@dataclass(frozen=True)
class ImportReport:
    """Every row of an import, whether it was a dry run, and why nothing was written when something held the whole
    import back (`held_back`): a file that cannot be read, invalid prompts without `skip_invalid`, or a conflict
    under `fail`."""

    rows: tuple[ImportRow, ...]
    dry_run: bool
    held_back: str = ""

    @property
    def applied(self) -> bool:
        return not self.dry_run and not self.held_back

    @property
    def counts(self) -> dict[str, int]:
        """How many prompts were (would be) created, added to, skipped, and how many rows are problems."""
        counts = dict.fromkeys(("created", "added", "skipped", "problems"), 0)
        for row in self.rows:
            counts["problems" if row.problem else row.action] += 1
        return counts


_PROBLEM_PROMPT = re.compile(r": prompt (\S+?)(?:: | version \d+| \()")


def _shown_as(text: str, root: Path | None) -> str:
    """`text` with the directory an uploaded file was saved in left out: the user sees the name they chose."""
    return text.replace(f"{root}{os.sep}", "") if root is not None else text


def _invalid_row(problem: str, root: Path | None, action: str = "invalid") -> ImportRow:
    found = _PROBLEM_PROMPT.search(problem)
    file = _shown_as(problem.split(": ", 1)[0], root)
    return ImportRow(file, found.group(1) if found else None, action, reason=_shown_as(problem, root))


def _import_rows(
    prompts: list[tuple[Path | str, ArchivePrompt]], *, stop_on_failure: bool, root: Path | None, **options
) -> list[ImportRow]:
    rows: list[ImportRow] = []
    for path, prompt in prompts:
        about = {"file": _shown_as(shown(path), root), "origin": prompt.origin, "notes": tuple(prompt.notes)}
        try:
            outcome = prompt_import(prompt=prompt, source=import_source(path, prompt), **options)
        except PermissionDeniedError as exc:
            rows.append(ImportRow(prompt_id=prompt.prompt_id, action="refused", reason=exc.message, **about))
            continue
        except StackAdminError as exc:
            rows.append(ImportRow(prompt_id=prompt.prompt_id, action="failed", reason=exc.message, **about))
            if stop_on_failure:
                break
            continue
        rows.append(
            ImportRow(
                prompt_id=outcome.prompt_id,
                action=outcome.action,
                versions=outcome.versions,
                reason=outcome.reason,
                **about,
            )
        )
    return rows


def prompts_import(
    *,
    paths: list[Path | str],
    source: str | None = None,
    skip_invalid: bool = False,
    on_conflict: str = "new-version",
    owner: str | None = None,
    principal: Principal | None = None,
    dry_run: bool = False,
    root: Path | None = None,
) -> ImportReport:
    """Import every prompt of the archives at `paths` (apps.prompts.transfer.read_archives) with `prompt_import`,
    one row per prompt, for the dashboard's and the admin's Import pages. Nothing is written when a file cannot be
    read, when a prompt is invalid (unless `skip_invalid`: then the others are imported), or, under `on_conflict`
    `fail`, when any prompt conflicts (all are checked first); a prompt the policy refuses to `principal` is
    refused on its own row. File names are shown relative to `root` (where an upload was saved)."""
    if on_conflict not in ON_CONFLICT:
        raise BadRequestError(f"Invalid value for 'on_conflict': expected one of {', '.join(ON_CONFLICT)}.")
    try:
        prompts, problems = read_archives(paths, source=source, skip_invalid=True)
    except TransferError as exc:
        row = _invalid_row(str(exc), root, "unreadable")
        return ImportReport((row,), dry_run, held_back=f"{row.reason}. Nothing was imported.")
    invalid = [_invalid_row(problem, root) for problem in problems]
    options = {"on_conflict": on_conflict, "owner": owner, "principal": principal, "root": root}
    held_back = ""
    if invalid and not skip_invalid:
        held_back = "The file has invalid prompts: nothing is imported unless invalid prompts are skipped."
    check_first = on_conflict == "fail" and not held_back
    if dry_run or held_back or check_first:
        rows = _import_rows(prompts, stop_on_failure=False, dry_run=True, **options)
        if check_first and any(row.action == "failed" for row in rows):
            held_back = "A prompt conflicts with the one stored (on conflict: fail): nothing is imported."
        if dry_run or held_back:
            return ImportReport((*rows, *invalid), dry_run, held_back)
    # A conflict that appears only now (a concurrent write) stops a `fail` import where it is.
    rows = _import_rows(prompts, stop_on_failure=on_conflict == "fail", dry_run=False, **options)
    return ImportReport((*rows, *invalid), dry_run)
