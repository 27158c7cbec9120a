"""Prompt reads.

Single-prompt reads go straight to the KV store (two key lookups). Listing uses a per-process index of every
prompt, rebuilt only when the store's generation key changes; every write changes it in the same atomic batch
as the data, so an index is never served after a write it does not include has been acknowledged, whichever
worker process served that write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from apps.core.access import allowed, read_predicate
from apps.core.errors import BadRequestError, NotFoundError, StoreUnavailableError
from apps.core.handlers import RunConfigHandler
from apps.core.http import dumps
from apps.core.paging import Page
from apps.core.policy import access_keys, evaluate
from apps.core.principal import ANONYMOUS, Principal
from apps.prompts.config import prompts_config
from apps.prompts.index import IndexSlot, index_slots
from apps.prompts.keys import (
    ALL_END,
    ALL_START,
    GENERATION_KEY,
    HISTORY_END,
    HISTORY_START,
    LABEL_RE,
    LABELS_END,
    LABELS_START,
    PROMPT_ID_RE,
    default_key,
    history_range,
    label_range,
    parse_key,
    parse_label_key,
    prompt_range,
    version_key,
)
from apps.prompts.records import HistoryEntry, PromptVersion, decode_history, decode_record, versions_body
from apps.prompts.templating import Rendering, render, render_message
from apps.storage.kv import BaseKVStore, KVBackendError, kv_stores

logger = logging.getLogger("apps.prompts")
T = TypeVar("T")
MAX_HISTORY_PAGE = 100


class _PromptStores(RunConfigHandler[str, BaseKVStore]):
    """The prompts store, in the key layout its data was written in. llama-stack 0.7.3 wrote prompt records
    without the store's namespace (`prompts:v1:{id}:{n}` for namespace `prompts`), where later llama-stack
    releases and stackadmin write `prompts:prompts:v1:{id}:{n}`: a store that holds no prompts under its namespace
    but holds llama-stack's without it is served (and written) without it, so a 0.7.3 `kvstore.db` works in place.
    Decided once per process and run config, from two small reads; the instances belong to `kv_stores`."""

    def create(self, key: str) -> BaseKVStore:
        store = kv_stores[key]
        if store.namespace is None or store.get(GENERATION_KEY) is not None or store.keys_in_range(ALL_START, ALL_END):
            return store
        bare = kv_stores.bare(key)
        if not bare.keys_in_range(ALL_START, ALL_END):
            return store
        logger.warning(
            "stackadmin: the %r store holds llama-stack 0.7 prompts without its namespace prefix %r; serving them "
            "in that layout",
            key,
            store.namespace,
        )
        return bare


_prompt_stores = _PromptStores()


def prompt_store() -> BaseKVStore:
    return store_call(_prompt_stores.__getitem__, "prompts")


def validate_prompt_id(prompt_id: str, *, param: str = "prompt_id") -> None:
    if not isinstance(prompt_id, str) or not PROMPT_ID_RE.match(prompt_id):
        shown = prompt_id if isinstance(prompt_id, str) and len(prompt_id) <= 80 else f"{str(prompt_id)[:77]}..."
        raise BadRequestError(
            f"Invalid value for '{param}': {shown!r}. Prompt ids are 'pmpt_' followed by 48 lowercase hex characters.",
            param=param,
            code="invalid_prompt_id",
        )


def store_call(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` on the prompt store, a store that cannot be reached being a 503."""
    try:
        return fn(*args, **kwargs)
    except KVBackendError as exc:
        raise StoreUnavailableError(f"The prompt store is unavailable: {exc}") from exc


def _decode(raw: str, prompt_id: str, is_default: bool, labels: tuple[str, ...] = ()) -> PromptVersion:
    try:
        return decode_record(raw, is_default=is_default, labels=labels)
    except (ValueError, KeyError, TypeError) as exc:
        logger.error("unreadable record for prompt %s: %s", prompt_id, exc)
        raise NotFoundError(f"Prompt '{prompt_id}' has an unreadable record.", param="prompt_id") from exc


def latest_version(prompt_id: str) -> int | None:
    """The highest version number. Versions are numbered 1..N without gaps (a deleted version's record stays, as a
    tombstone), so a gallop forward from the default version finds N in a few key lookups instead of scanning
    every version."""
    store = prompt_store()

    def exists(number: int) -> bool:
        return store_call(store.get, version_key(prompt_id, number)) is not None

    start = _default_version(prompt_id)
    if start is None or not exists(start):
        start, end = prompt_range(prompt_id)
        versions = [
            int(s)
            for k in store_call(store.keys_in_range, start, end)
            if (parsed := parse_key(k)) and (s := parsed[1]).isdigit()
        ]
        return max(versions) if versions else None
    low, step = start, 1
    while exists(low + step):
        low, step = low + step, step * 2
    high = low + step  # low exists, high does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if exists(middle) else (low, middle)
    return low


def _default_version(prompt_id: str) -> int | None:
    pointer = store_call(prompt_store().get, default_key(prompt_id))
    return int(pointer) if pointer is not None and pointer.isdigit() else None


def _not_found(prompt_id: str) -> NotFoundError:
    return NotFoundError(f"Prompt '{prompt_id}' not found.", param="prompt_id")


def can_access(record: PromptVersion, principal: Principal, action: str = "read") -> bool:
    """Whether `principal` may act on the prompt `record` belongs to (every version carries the owner)."""
    return allowed(
        principal,
        action,
        "prompt",
        record.prompt_id,
        owner=record.owner_principal,
        owner_attributes=record.access_attributes,
    )


def _visible(record: PromptVersion, principal: Principal) -> PromptVersion:
    if not can_access(record, principal):
        raise _not_found(record.prompt_id)  # exactly as if it did not exist
    return record


def validate_label(label: object, *, param: str = "label") -> str:
    if not isinstance(label, str) or not LABEL_RE.match(label):
        shown = str(label) if len(str(label)) <= 80 else f"{str(label)[:77]}..."
        raise BadRequestError(
            f"Invalid value for '{param}': {shown!r}. Labels are 1-36 characters: lowercase letters, digits, '_', "
            "'.' and '-', starting with a letter or digit.",
            param=param,
            code="invalid_label",
        )
    return label


def prompt_labels(prompt_id: str) -> dict[str, int]:
    """The prompt's labels (`default` and `latest` aside) and the versions they point at."""
    start, end = label_range(prompt_id)
    labels = {}
    for key, value in store_call(prompt_store().items_in_range, start, end):
        parsed = parse_label_key(key)
        if parsed and value.isdigit():
            labels[parsed[1]] = int(value)
    return labels


def _labels_of(labels: dict[str, int], version: int) -> tuple[str, ...]:
    return tuple(sorted(name for name, number in labels.items() if number == version))


def _deleted(prompt_id: str, version: int) -> NotFoundError:
    return NotFoundError(f"Prompt '{prompt_id}' version {version} was deleted.", param="version")


def prompt_version_get(*, prompt_id: str, version: int, principal: Principal = ANONYMOUS) -> PromptVersion:
    validate_prompt_id(prompt_id)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadRequestError("Invalid value for 'version': must be an integer >= 1.", param="version")
    raw = store_call(prompt_store().get, version_key(prompt_id, version))
    if raw is None:
        prompt_get(prompt_id=prompt_id, principal=principal)  # 404 unless the prompt exists and is visible
        raise NotFoundError(f"Prompt '{prompt_id}' has no version {version}.", param="version")
    labels = _labels_of(prompt_labels(prompt_id), version)
    record = _visible(_decode(raw, prompt_id, _default_version(prompt_id) == version, labels), principal)
    if record.deleted:
        raise _deleted(prompt_id, version)
    return record


def _label_target(prompt_id: str, label: str, principal: Principal) -> int:
    """The version number `label` points at (`latest`: the newest version that is not deleted)."""
    if label == "latest":
        newest = latest_version(prompt_id)
        store = prompt_store()
        while newest:
            raw = store_call(store.get, version_key(prompt_id, newest))
            if raw is not None and not _decode(raw, prompt_id, False).deleted:
                return newest
            newest -= 1
        raise _not_found(prompt_id)
    target = prompt_labels(prompt_id).get(label)
    if target is None:
        prompt_get(prompt_id=prompt_id, principal=principal)  # 404 unless the prompt exists and is visible
        raise NotFoundError(f"Prompt '{prompt_id}' has no label '{label}'.", param="label", code="label_not_found")
    return target


def prompt_get(
    *, prompt_id: str, version: int | None = None, label: str | None = None, principal: Principal = ANONYMOUS
) -> PromptVersion:
    """One version: by number, by label (`default`, `latest` or a label set on the prompt), or the default one."""
    if label is not None and label != "default":
        validate_prompt_id(prompt_id)
        version = _label_target(prompt_id, validate_label(label), principal)
    if version is not None:
        return prompt_version_get(prompt_id=prompt_id, version=version, principal=principal)
    validate_prompt_id(prompt_id)
    default = _default_version(prompt_id)
    raw = store_call(prompt_store().get, version_key(prompt_id, default)) if default is not None else None
    if raw is None:
        raise _not_found(prompt_id)
    record = _visible(_decode(raw, prompt_id, True, _labels_of(prompt_labels(prompt_id), default)), principal)
    if record.deleted:  # only if a move to a version raced with its deletion; moving the default mends it
        raise _deleted(prompt_id, default)
    return record


@dataclass
class _StoredPrompt:
    """One prompt's rows as the store holds them: raw records by version number, and the default pointer."""

    default: int | None = None
    records: dict[int, str] = field(default_factory=dict)


def _stored_prompts(rows: Iterable[tuple[str, str]]) -> dict[str, _StoredPrompt]:
    """Rows of the prompt key range grouped by prompt (a pointer that is not a number points nowhere)."""
    prompts: dict[str, _StoredPrompt] = {}
    for key, value in rows:
        parsed = parse_key(key)
        if not parsed:
            continue
        prompt_id, suffix = parsed
        stored = prompts.setdefault(prompt_id, _StoredPrompt())
        if suffix == "default":
            stored.default = int(value) if value.isdigit() else None
        elif suffix.isdigit():
            stored.records[int(suffix)] = value
    return prompts


def _visibility_first(prompt_id: str, principal: Principal) -> None:
    """404 unless the prompt exists and `principal` may read it, decided from version 1's record (every version,
    a deleted one's tombstone included, carries the owner) and the default pointer: the same two keys whether or
    not the prompt exists."""
    store = prompt_store()
    first = store_call(store.get, version_key(prompt_id, 1))
    pointer = store_call(store.get, default_key(prompt_id))
    if first is None or pointer is None:
        raise _not_found(prompt_id)
    _visible(_decode(first, prompt_id, False), principal)


def prompt_versions_list(*, prompt_id: str, principal: Principal = ANONYMOUS) -> list[PromptVersion]:
    """Every version that is not deleted, oldest first, `is_default` set on the default one, with its labels.

    Visibility is decided before anything else is read (`_visibility_first`): someone else's prompt costs the two
    key lookups a missing id does, however many versions it holds, and neither the answer nor its time says that
    it exists."""
    validate_prompt_id(prompt_id)
    _visibility_first(prompt_id, principal)
    start, end = prompt_range(prompt_id)
    stored = _stored_prompts(store_call(prompt_store().items_in_range, start, end)).get(prompt_id)
    if stored is None or not stored.records:
        raise _not_found(prompt_id)  # deleted since the first read
    labels = prompt_labels(prompt_id)
    versions = [
        _decode(raw, prompt_id, number == stored.default, _labels_of(labels, number))
        for number, raw in sorted(stored.records.items())
    ]
    return [v for v in versions if not v.deleted]


def prompt_label_list(*, prompt_id: str, principal: Principal = ANONYMOUS) -> list[dict]:
    """Every label of a prompt: `default`, `latest` (computed) and the ones set on it, each with its version and
    whether moving it needs `promote`."""
    versions = prompt_versions_list(prompt_id=prompt_id, principal=principal)
    protected = set(prompts_config().protected_labels)
    default = next(v.version for v in versions if v.is_default)
    labels = {"default": default, "latest": versions[-1].version, **prompt_labels(prompt_id)}
    return [label_object(prompt_id, name, number, protected) for name, number in labels.items()]


def label_object(prompt_id: str, label: str, version: int, protected: set[str] | None = None) -> dict:
    """A label as `/v1` shows it."""
    protected = set(prompts_config().protected_labels) if protected is None else protected
    return {
        "object": "prompt.label",
        "prompt_id": prompt_id,
        "label": label,
        "version": version,
        "protected": label in protected,
        "computed": label == "latest",
    }


# ------------------------------------------------------------------------------------------ history
def _readable_entries(entries: Iterable[HistoryEntry], principal: Principal) -> list[HistoryEntry]:
    predicate = read_predicate(principal, "prompt")
    if predicate.op == "true":
        return list(entries)
    return [
        e
        for e in entries
        if evaluate(predicate, owner=e.owner_principal, keys=access_keys(e.access_attributes), identifier=e.prompt_id)
    ]


def _decoded_entry(raw: str) -> HistoryEntry | None:
    try:
        return decode_history(raw)
    except (ValueError, KeyError, TypeError):
        logger.warning("skipping an unreadable prompt history entry")
        return None


def _history_rows(start: str, end: str) -> list[HistoryEntry]:
    entries = [e for _, raw in store_call(prompt_store().items_in_range, start, end) if (e := _decoded_entry(raw))]
    entries.reverse()  # newest first
    return entries


def _all_history() -> list[HistoryEntry]:
    """Every prompt's history, newest first, read once per process and store generation (every write, a refused
    move's record included, changes the generation in the same batch). An entry never changes, so a read after a
    write decodes only the new entries: open Activity pages refreshing after a change do not each decode it all."""
    store = prompt_store()
    generation = store_call(store.get, GENERATION_KEY)
    slot = index_slots["prompts"]
    with slot.history_lock:
        cached = slot.history
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1]
        previous, decoded, entries = slot.history_entries, {}, []
        for key, raw in store_call(store.items_in_range, HISTORY_START, HISTORY_END):
            entry = previous.get(key) or _decoded_entry(raw)
            if entry is not None:
                decoded[key] = entry
                entries.append(entry)
        entries.reverse()  # newest first
        slot.history_entries, slot.history = decoded, (generation, entries)
        return entries


@dataclass(frozen=True)
class HistoryFilter:
    action: str | None = None
    label: str | None = None
    actor: str | None = None
    since: float | None = None
    until: float | None = None
    prompt_id: str | None = None  # one prompt's entries (read from its own range), also once it is deleted

    def keeps(self, entry: HistoryEntry) -> bool:
        return (
            (self.prompt_id is None or entry.prompt_id == self.prompt_id)
            and (self.action is None or entry.action == self.action)
            and (self.label is None or entry.label == self.label)
            and (self.actor is None or entry.actor == self.actor)
            and (self.since is None or entry.created_at >= self.since)
            and (self.until is None or entry.created_at < self.until)
        )


def _history_page(entries: list[HistoryEntry], *, limit: int, after: str | None) -> Page:
    if not 1 <= limit <= MAX_HISTORY_PAGE:
        raise BadRequestError(f"Invalid value for 'limit': must be between 1 and {MAX_HISTORY_PAGE}.", param="limit")
    if after is not None:
        position = next((i for i, e in enumerate(entries) if e.id == after), None)
        if position is None:
            raise BadRequestError(f"Invalid value for 'after': no history entry '{after}' here.", param="after")
        entries = entries[position + 1 :]
    return Page.of(entries[:limit], has_more=len(entries) > limit)


def prompt_history(
    *,
    prompt_id: str,
    limit: int = 20,
    after: str | None = None,
    principal: Principal = ANONYMOUS,
) -> Page:
    """One prompt's history, newest first; also after the prompt was deleted (its entries carry its owner)."""
    validate_prompt_id(prompt_id)
    entries = _readable_entries(_history_rows(*history_range(prompt_id)), principal)
    if not entries:
        prompt_get(prompt_id=prompt_id, principal=principal)  # 404 for a prompt that never was (or is not theirs)
    return _history_page(entries, limit=limit, after=after)


def prompts_history(
    *,
    filters: HistoryFilter = HistoryFilter(),
    limit: int = 20,
    after: str | None = None,
    principal: Principal = ANONYMOUS,
) -> Page:
    """Every prompt's history that `principal` may read, newest first, filtered. Unlike `prompt_history`, a
    `prompt_id` filter naming a prompt that never was (or is not theirs) is an empty page, not a 404."""
    if filters.prompt_id is not None:
        validate_prompt_id(filters.prompt_id, param="prompt")
        rows = _history_rows(*history_range(filters.prompt_id))
    else:
        rows = _all_history()
    entries = [e for e in _readable_entries(rows, principal) if filters.keeps(e)]
    return _history_page(entries, limit=limit, after=after)


# ------------------------------------------------------------------------------------------ rendering
# A variable's value is a string, or one of OpenAI's content parts: `input_text` is substituted like a string;
# `input_image` and `input_file` cannot be written into text, so the placeholder says what stands there and the
# part is handed back for the caller to send beside the prompt.
_MEDIA_LABELS = {"input_image": "Image", "input_file": "File"}


@dataclass(frozen=True)
class RenderedPrompt:
    prompt: PromptVersion  # the version that was rendered (the default one when no version was asked for)
    rendering: Rendering  # the version's text, rendered (for a chat template: its messages as text)
    media: dict[str, dict]  # a text template's image and file values by variable name (OpenAI's content parts)
    messages: list[dict] | None = None  # a chat template's messages, rendered: Responses input items

    @property
    def text(self) -> str:
        return self.rendering.text


def _check_variable_names(stored: PromptVersion, names: list[str], *, allow_missing: bool, param: str) -> None:
    declared = list(stored.variables)
    for name in names:
        if name not in declared:
            raise BadRequestError(
                f"Invalid value for '{param}': '{name}' is not a variable of prompt '{stored.prompt_id}' "
                f"version {stored.version} (declared: {', '.join(declared) or 'none'}).",
                param=f"{param}.{name}",
                code="unknown_variable",
            )
    missing = [name for name in declared if name not in names]
    if missing and not allow_missing:
        raise BadRequestError(
            f"Missing value for prompt variable{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} "
            f"of prompt '{stored.prompt_id}' version {stored.version}.",
            param=f"{param}.{missing[0]}",
            code="missing_variable",
        )


def _value_text(name: str, value: str | Mapping[str, Any], media: dict[str, dict]) -> str:
    if isinstance(value, str):
        return value
    if value["type"] == "input_text":
        return value["text"]
    media[name] = dict(value)
    return f"[{_MEDIA_LABELS[value['type']]}: {name}]"


def _chat_value(value: str | Mapping[str, Any]) -> str | dict:
    """A value as a chat template takes it: text, or an image or file part standing where its placeholder is."""
    if isinstance(value, str):
        return value
    return value["text"] if value["type"] == "input_text" else dict(value)


def _render_messages(stored: PromptVersion, variables: Mapping[str, Any], param: str) -> list[dict]:
    values = {name: _chat_value(value) for name, value in variables.items()}
    messages = []
    for index, (template, rendered) in enumerate(
        (message, render_message(message, values)) for message in stored.messages or ()
    ):
        if rendered.media and template["role"] != "user":
            name = rendered.media[0]
            raise BadRequestError(
                f"Invalid value for '{param}.{name}': an {values[name]['type']} can only stand in a user message, "
                f"and {{{{ {name} }}}} is in message {index} ({template['role']}) of prompt '{stored.prompt_id}' "
                f"version {stored.version}.",
                param=f"{param}.{name}",
            )
        messages.append(rendered.message)
    return messages


def prompt_render(
    *,
    prompt_id: str,
    version: int | None = None,
    label: str | None = None,
    variables: Mapping[str, str | Mapping[str, Any]],
    principal: Principal = ANONYMOUS,
    allow_missing: bool = False,
    param: str = "variables",
) -> RenderedPrompt:
    """A stored version (the default one unless `version` or `label`) with `variables` substituted.

    Every name must be a declared variable, and every declared variable needs a value unless `allow_missing`
    (a preview marks the missing ones instead). Values are strings or `input_text`/`input_image`/`input_file`
    parts, as the caller's schema has checked. `param` is where the caller's request holds the variables, so
    that a 400 names the caller's own field. A prompt that does not exist or is not visible is a 404.

    A chat template's messages are rendered too, image and file values standing as parts of their own where
    their placeholders are (in user messages only: a 400 otherwise).
    """
    stored = prompt_get(prompt_id=prompt_id, version=version, label=label, principal=principal)
    _check_variable_names(stored, list(variables), allow_missing=allow_missing, param=param)
    media: dict[str, dict] = {}
    values = {name: _value_text(name, value, media) for name, value in variables.items()}
    rendering = render(stored.prompt or "", values)
    if stored.is_chat:
        return RenderedPrompt(stored, rendering, {}, _render_messages(stored, variables, param))
    return RenderedPrompt(prompt=stored, rendering=rendering, media=media)


async def aread(selector: Callable[..., T], /, **arguments: Any) -> T:
    """`selector(**arguments)` for async callers: inline when the prompt store reads locally in microseconds,
    else on a worker thread."""
    if prompt_store().inline_reads:
        return selector(**arguments)
    return await sync_to_async(selector, thread_sensitive=False)(**arguments)


async def aprompt_render(**arguments: Any) -> RenderedPrompt:
    """`prompt_render(**arguments)` for async callers (see `aread`)."""
    return await aread(prompt_render, **arguments)


# ------------------------------------------------------------------------------------------ listing index
@dataclass(frozen=True)
class PromptSummary:
    prompt_id: str
    default: PromptVersion
    latest_version: int
    version_count: int
    created_at: float
    updated_at: float
    updated_by: str | None
    search_text: str = field(repr=False, default="")

    @property
    def updated(self) -> datetime | None:
        return datetime.fromtimestamp(self.updated_at, UTC) if self.updated_at else None


@dataclass
class PromptIndex:
    generation: str | None
    ordered: list[PromptSummary]  # newest first
    by_id: dict[str, PromptSummary]
    _default_json: bytes | None = None

    def default_list_json(self) -> bytes:
        """llama-stack's list body for this index, serialised once per generation."""
        if self._default_json is None:
            body = versions_body(s.default for s in self.ordered)
            self._default_json = json.dumps(body, ensure_ascii=False).encode()
        return self._default_json


def _summarize(prompt_id: str, stored: _StoredPrompt, labels: dict[str, int]) -> PromptSummary | None:
    try:
        records = {
            n: decode_record(raw, is_default=n == stored.default, labels=_labels_of(labels, n))
            for n, raw in stored.records.items()
        }
    except (ValueError, KeyError, TypeError):
        logger.warning("skipping prompt %s: unreadable record", prompt_id)
        return None
    live = {n: r for n, r in records.items() if not r.deleted}
    default = live.get(stored.default)
    if default is None:
        return None
    latest = max(live)
    stamps = [r.created_at for r in live.values() if r.created_at is not None]
    return PromptSummary(
        prompt_id=prompt_id,
        default=default,
        latest_version=latest,
        version_count=len(live),
        created_at=min(stamps) if stamps else 0.0,
        updated_at=max(stamps) if stamps else 0.0,
        updated_by=records[latest].created_by,
        search_text=f"{prompt_id}\n{default.prompt or ''}".casefold(),
    )


def _all_labels(store: BaseKVStore) -> dict[str, dict[str, int]]:
    labels: dict[str, dict[str, int]] = {}
    for key, value in store_call(store.items_in_range, LABELS_START, LABELS_END):
        parsed = parse_label_key(key)
        if parsed and value.isdigit():
            labels.setdefault(parsed[0], {})[parsed[1]] = int(value)
    return labels


def _build_index(store: BaseKVStore, generation: str | None, slot: IndexSlot) -> PromptIndex:
    previous = slot.summaries
    current: dict[str, tuple[tuple, PromptSummary]] = {}
    labels = _all_labels(store)
    for prompt_id, stored in _stored_prompts(store_call(store.items_in_range, ALL_START, ALL_END)).items():
        if stored.default not in stored.records:
            continue  # llama-stack lists only prompts with a default pointer; so do we
        own = labels.get(prompt_id, {})
        signature = (stored.default, tuple(sorted(stored.records.items())), tuple(sorted(own.items())))
        cached = previous.get(prompt_id)
        if cached is None or cached[0] != signature:
            summary = _summarize(prompt_id, stored, own)
            if summary is None:
                continue
            cached = (signature, summary)
        current[prompt_id] = cached
    slot.summaries = current
    summaries = [summary for _, summary in current.values()]
    summaries.sort(key=lambda s: (s.created_at, s.prompt_id), reverse=True)
    return PromptIndex(generation=generation, ordered=summaries, by_id={s.prompt_id: s for s in summaries})


def prompt_index() -> PromptIndex:
    store = prompt_store()
    generation = store_call(store.get, GENERATION_KEY)
    slot = index_slots["prompts"]
    cached = slot.index
    if cached is not None and generation is not None and cached.generation == generation:
        return cached
    with slot.lock:
        cached = slot.index
        if cached is not None and generation is not None and cached.generation == generation:
            return cached
        slot.index = _build_index(store, generation, slot)
        return slot.index


@dataclass(frozen=True)
class PromptPage(Page):
    total: int = 0


def _check_list_arguments(limit: int | None, order: str) -> None:
    if order not in ("asc", "desc"):
        raise BadRequestError("Invalid value for 'order': must be 'asc' or 'desc'.", param="order")
    if limit is not None and not 1 <= limit <= 1000:
        raise BadRequestError("Invalid value for 'limit': must be between 1 and 1000.", param="limit")


def _readable(rows: list[PromptSummary], principal: Principal) -> list[PromptSummary]:
    """The summaries `principal` may read: the policy is evaluated on each default version's owner fields (every
    version carries them), so a listing decodes nothing."""
    predicate = read_predicate(principal, "prompt")
    if predicate.op == "true":
        return rows
    return [
        s
        for s in rows
        if evaluate(
            predicate,
            owner=s.default.owner_principal,
            keys=access_keys(s.default.access_attributes),
            identifier=s.prompt_id,
        )
    ]


def _after(rows: list[PromptSummary], after: str) -> list[PromptSummary]:
    position = next((i for i, s in enumerate(rows) if s.prompt_id == after), None)
    if position is None:
        raise BadRequestError(f"Invalid value for 'after': no prompt '{after}' in this listing.", param="after")
    return rows[position + 1 :]


def prompt_list(
    *,
    limit: int | None = None,
    after: str | None = None,
    order: str | None = "desc",
    query: str | None = None,
    principal: Principal = ANONYMOUS,
) -> PromptPage:
    """Prompts (their default versions) by creation time, newest first unless `order="asc"`."""
    order = order or "desc"
    _check_list_arguments(limit, order)
    rows = _readable(prompt_index().ordered, principal)
    if order == "asc":
        rows = rows[::-1]
    if query:
        needle = query.casefold().strip()
        rows = [s for s in rows if needle in s.search_text]
    if after is not None:
        rows = _after(rows, after)
    page = rows if limit is None else rows[:limit]
    return PromptPage(
        data=page,
        has_more=len(page) < len(rows),
        first_id=page[0].prompt_id if page else None,
        last_id=page[-1].prompt_id if page else None,
        total=len(rows),
    )


def prompt_list_json(*, principal: Principal = ANONYMOUS) -> bytes:
    """llama-stack's unpaged list body: every prompt `principal` may read, by its default version, newest first.
    Someone who may read every prompt gets the index's body, serialised once per generation."""
    if read_predicate(principal, "prompt").op == "true":
        return prompt_index().default_list_json()
    return dumps(versions_body(s.default for s in prompt_list(principal=principal).data))


# ------------------------------------------------------------------------------------------ export
@dataclass(frozen=True)
class PromptDump:
    """Everything the store holds of one prompt: every version (deleted ones as such), the default, labels and
    history (oldest first)."""

    prompt_id: str
    default: int
    labels: dict[str, int]
    versions: list[PromptVersion]
    history: list[HistoryEntry] = field(default_factory=list)


def prompt_dump(*, prompt_id: str) -> PromptDump | None:
    """One prompt as the store holds it, or None if it does not exist. For operators (export, import): no access
    check, as whoever runs the `stackadmin` command already holds the store's credentials."""
    validate_prompt_id(prompt_id)
    store = prompt_store()
    start, end = prompt_range(prompt_id)
    stored = _stored_prompts(store_call(store.items_in_range, start, end)).get(prompt_id)
    if stored is None or stored.default is None or not stored.records:
        return None
    labels = prompt_labels(prompt_id)
    versions = [
        _decode(raw, prompt_id, number == stored.default, _labels_of(labels, number))
        for number, raw in sorted(stored.records.items())
    ]
    history = _history_rows(*history_range(prompt_id))
    history.reverse()  # oldest first
    return PromptDump(prompt_id=prompt_id, default=stored.default, labels=labels, versions=versions, history=history)


def prompt_ids() -> list[str]:
    """Every prompt's id, in key order (read from keys only, so memory grows with the number of prompts, not with
    their content)."""
    keys = store_call(prompt_store().keys_in_range, ALL_START, ALL_END)
    return [parsed[0] for key in keys if (parsed := parse_key(key)) and parsed[1] == "default"]


def prompts_dump(*, ids: list[str] | None = None) -> Iterator[PromptDump]:
    """Prompt after prompt (each read when the previous one is consumed), for a streaming export: `ids`, or all."""
    for prompt_id in ids if ids is not None else prompt_ids():
        dump = prompt_dump(prompt_id=prompt_id)
        if dump is None:
            if ids is not None:
                raise _not_found(prompt_id)
            continue  # deleted since the listing
        yield dump


def prompts_dump_for(
    *, principal: Principal, query: str | None = None, ids: Iterable[str] | None = None
) -> Iterator[PromptDump]:
    """The prompts `principal` may read (an operator: all), those the list shows for `query`, or only `ids`, in id
    order as the command exports them. The listing is read now (a store outage is raised here, before a download
    starts); each prompt is read when the previous one is consumed, and one deleted since is left out."""
    listed = {s.prompt_id for s in prompt_list(query=query, principal=principal).data}
    wanted = sorted(listed if ids is None else listed & set(ids))
    return (dump for prompt_id in wanted if (dump := prompt_dump(prompt_id=prompt_id)) is not None)
