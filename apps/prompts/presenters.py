"""Prompt versions shaped for people: the diffs between two versions that the dashboard shows, a chat template's
messages and a version's model settings as the version page lists them, the preview of a chat template, and a
prompt's timeline (its versions with its history between them).

Pure functions over strings and `PromptVersion` records, with no storage access: the dashboard's views fetch
records through the selectors and hand them here, so the same shaping serves saved versions and unsaved text
(a conflict diff compares the text being edited with the newest saved version). Templates are read only by
apps.prompts.templating (placeholders, the editor's report of them, rendering); presenters only present.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apps.core.model_settings import SETTING_NAMES
from apps.prompts.records import HistoryEntry, PromptVersion
from apps.prompts.templating import TEXT_PART_TYPES, Part, message_body, render

# ------------------------------------------------------------------------------------------ diffs
_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")
# Below this similarity a changed line is shown as removed and added whole: word confetti would not help.
_WORD_DIFF_MIN_RATIO = 0.35


@dataclass(frozen=True)
class Segment:
    text: str
    changed: bool


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff. In a removed or added line that pairs with a similar line on the other side,
    `segments` marks the words that changed; a line removed or added as a whole has no marked words."""

    kind: str  # "equal", "delete", "insert", or "skip" (a run of unchanged lines left out)
    old_number: int | None = None
    new_number: int | None = None
    segments: tuple[Segment, ...] = ()
    skipped: int = 0


@dataclass(frozen=True)
class TextDiff:
    lines: list[DiffLine]
    added: int
    removed: int

    @property
    def identical(self) -> bool:
        return not self.added and not self.removed


@dataclass(frozen=True)
class VariablesDiff:
    added: list[str]
    removed: list[str]
    kept: list[str]

    @property
    def identical(self) -> bool:
        return not self.added and not self.removed


@dataclass(frozen=True)
class MessageDiff:
    """One message of a chat template compared: the same, changed (its role, its text or both), added or removed.
    Numbers are 1-based positions in each version."""

    kind: str  # "equal", "changed", "added" or "removed"
    old_number: int | None
    new_number: int | None
    old_role: str | None
    new_role: str | None
    text: TextDiff

    @property
    def role_changed(self) -> bool:
        return self.kind == "changed" and self.old_role != self.new_role


@dataclass(frozen=True)
class MessagesDiff:
    messages: list[MessageDiff]

    def _count(self, kind: str) -> int:
        return sum(1 for m in self.messages if m.kind == kind)

    @property
    def added(self) -> int:
        return self._count("added")

    @property
    def removed(self) -> int:
        return self._count("removed")

    @property
    def changed(self) -> int:
        return self._count("changed")

    @property
    def identical(self) -> bool:
        return all(m.kind == "equal" for m in self.messages)


@dataclass(frozen=True)
class SettingChange:
    """A model setting set, unset or changed between two versions. Object values (tools, the text format) come
    with a line diff of their JSON."""

    name: str
    kind: str  # "added", "removed" or "changed"
    old: str | None
    new: str | None
    lines: TextDiff | None = None

    @property
    def label(self) -> str:
        return SETTING_LABELS[self.name]


@dataclass(frozen=True)
class SettingsDiff:
    changes: list[SettingChange]
    kept: list[str]  # settings set to the same value in both

    @property
    def identical(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class VersionDiff:
    old: PromptVersion
    new: PromptVersion
    text: TextDiff  # the versions' text (a chat template's is its messages as text)
    variables: VariablesDiff
    settings: SettingsDiff
    messages: MessagesDiff | None = None  # when both versions are chat templates

    @property
    def identical(self) -> bool:
        content = self.messages.identical if self.messages is not None else self.text.identical
        return content and self.variables.identical and self.settings.identical

    @property
    def kind_changed(self) -> bool:
        return self.old.is_chat != self.new.is_chat

    @property
    def added(self) -> int:
        """Lines added: across the messages when both are chat templates, else in the text."""
        if self.messages is None:
            return self.text.added
        return sum(m.text.added for m in self.messages.messages)

    @property
    def removed(self) -> int:
        if self.messages is None:
            return self.text.removed
        return sum(m.text.removed for m in self.messages.messages)


def _whole(line: str) -> tuple[Segment, ...]:
    return (Segment(line, False),) if line else ()


def _merge(segments: list[Segment]) -> tuple[Segment, ...]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].changed == seg.changed:
            merged[-1] = Segment(merged[-1].text + seg.text, seg.changed)
        elif seg.text:
            merged.append(seg)
    return tuple(merged)


def _word_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]] | None:
    a, b = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < _WORD_DIFF_MIN_RATIO:
        return None
    left: list[Segment] = []
    right: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(Segment("".join(a[i1:i2]), False))
            right.append(Segment("".join(b[j1:j2]), False))
        else:
            left.append(Segment("".join(a[i1:i2]), True))
            right.append(Segment("".join(b[j1:j2]), True))
    return _merge(left), _merge(right)


def _collapse(lines: list[DiffLine], context: int) -> list[DiffLine]:
    """Keep `context` unchanged lines around each change; replace longer unchanged runs with one skip line."""
    out: list[DiffLine] = []
    i = 0
    while i < len(lines):
        if lines[i].kind != "equal":
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].kind == "equal":
            j += 1
        run = lines[i:j]
        keep_head = context if i > 0 else 0
        keep_tail = context if j < len(lines) else 0
        if len(run) > keep_head + keep_tail + 1:
            out += run[:keep_head]
            out.append(DiffLine("skip", skipped=len(run) - keep_head - keep_tail))
            out += run[len(run) - keep_tail :] if keep_tail else []
        else:
            out += run
        i = j
    return out


def text_diff(old: str, new: str, *, context: int = 3) -> TextDiff:
    """A line diff with word-level marks inside changed lines; long unchanged stretches are folded."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    lines: list[DiffLine] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [DiffLine("equal", i1 + k + 1, j1 + k + 1, _whole(a[i1 + k])) for k in range(i2 - i1)]
            continue
        removed += i2 - i1
        added += j2 - j1
        old_segments = [_whole(line) for line in a[i1:i2]]
        new_segments = [_whole(line) for line in b[j1:j2]]
        if tag == "replace":
            for k in range(min(i2 - i1, j2 - j1)):
                pair = _word_diff(a[i1 + k], b[j1 + k])
                if pair is not None:
                    old_segments[k], new_segments[k] = pair
        lines += [DiffLine("delete", old_number=i1 + k + 1, segments=s) for k, s in enumerate(old_segments)]
        lines += [DiffLine("insert", new_number=j1 + k + 1, segments=s) for k, s in enumerate(new_segments)]
    if not added and not removed:
        return TextDiff(lines=lines, added=0, removed=0)
    return TextDiff(lines=_collapse(lines, context), added=added, removed=removed)


def variables_diff(old: list[str], new: list[str]) -> VariablesDiff:
    before, after = set(old), set(new)
    return VariablesDiff(
        added=[n for n in new if n not in before],
        removed=[n for n in old if n not in after],
        kept=[n for n in new if n in before],
    )


def messages_diff(old: list[dict], new: list[dict]) -> MessagesDiff:
    """Messages matched up as lines are in a text diff: unchanged runs stay paired, and in a stretch that changed,
    messages pair up in order (each with a line diff of its text) before the extra ones count as added or removed."""
    a = [(m["role"], message_body(m)) for m in old]
    b = [(m["role"], message_body(m)) for m in new]

    absent = (None, "")

    def pair(kind: str, i: int | None, j: int | None) -> MessageDiff:
        (old_role, old_text), (new_role, new_text) = (
            a[i] if i is not None else absent,
            b[j] if j is not None else absent,
        )
        return MessageDiff(
            kind,
            None if i is None else i + 1,
            None if j is None else j + 1,
            old_role,
            new_role,
            text_diff(old_text, new_text),
        )

    out: list[MessageDiff] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [pair("equal", i1 + k, j1 + k) for k in range(i2 - i1)]
            continue
        paired = min(i2 - i1, j2 - j1)
        out += [pair("changed", i1 + k, j1 + k) for k in range(paired)]
        out += [pair("removed", i1 + k, None) for k in range(paired, i2 - i1)]
        out += [pair("added", None, j1 + k) for k in range(paired, j2 - j1)]
    return MessagesDiff(out)


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> SettingsDiff:
    changes: list[SettingChange] = []
    kept: list[str] = []
    for name in SETTING_NAMES:
        before, after = old.get(name), new.get(name)
        if before == after:
            if before is not None:
                kept.append(name)
            continue
        kind = "added" if before is None else "removed" if after is None else "changed"
        old_text, new_text = setting_text(before), setting_text(after)
        structured = isinstance(before, (dict, list)) or isinstance(after, (dict, list))
        lines = text_diff(old_text or "", new_text or "") if structured else None
        changes.append(SettingChange(name, kind, old_text, new_text, lines))
    return SettingsDiff(changes=changes, kept=kept)


def version_diff(old: PromptVersion, new: PromptVersion) -> VersionDiff:
    both_chat = old.is_chat and new.is_chat
    return VersionDiff(
        old=old,
        new=new,
        text=text_diff(old.prompt or "", new.prompt or ""),
        variables=variables_diff(old.variables, new.variables),
        settings=settings_diff(old.settings, new.settings),
        messages=messages_diff(old.messages, new.messages) if both_chat else None,
    )


# ------------------------------------------------------------------------------------------ a version's parts
SETTING_LABELS = {
    "model": "Model",
    "temperature": "Temperature",
    "top_p": "Top p",
    "max_output_tokens": "Max output tokens",
    "tools": "Tools",
    "tool_choice": "Tool choice",
    "parallel_tool_calls": "Parallel tool calls",
    "text": "Text format",
    "reasoning": "Reasoning",
    "truncation": "Truncation",
}


def setting_text(value: Any) -> str | None:
    """A setting's value as text: a string as it is, anything else as JSON (objects indented, a line a field)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value)


@dataclass(frozen=True)
class SettingRow:
    name: str
    label: str
    text: str
    structured: bool  # an object shown as indented JSON


def setting_rows(settings: Mapping[str, Any]) -> list[SettingRow]:
    """The settings that are set, in `responses.create`'s order."""
    return [
        SettingRow(name, SETTING_LABELS[name], setting_text(settings[name]), isinstance(settings[name], (dict, list)))
        for name in SETTING_NAMES
        if settings.get(name) is not None
    ]


@dataclass(frozen=True)
class Block:
    """A piece of a message as the version page shows it: a text (rendered into `parts` in a preview), or an
    image or a file, named by `text`."""

    kind: str  # "text" or "media"
    text: str
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True)
class MessageView:
    number: int
    role: str
    blocks: list[Block]


def _media_label(part: dict) -> str:
    if part["type"] == "input_image":
        source = part.get("image_url") or part.get("file_id") or ""
        return f"Image: {source[:120]}{'…' if len(source) > 120 else ''}"
    return f"File: {part.get('filename') or part.get('file_id') or part.get('file_url') or 'inline data'}"


def message_views(messages: list[dict]) -> list[MessageView]:
    views = []
    for index, message in enumerate(messages):
        content = message["content"]
        parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
        blocks = [
            Block("text", part["text"]) if part["type"] in TEXT_PART_TYPES else Block("media", _media_label(part))
            for part in parts
        ]
        views.append(MessageView(index + 1, message["role"], blocks))
    return views


@dataclass(frozen=True)
class ChatPreview:
    messages: list[MessageView]  # every text block with its `parts` rendered
    missing: list[str]  # variables without a value, in order of first use
    characters: int


def chat_preview(messages: list[dict], values: Mapping[str, str]) -> ChatPreview:
    """Every message of a chat template with `values` substituted (by the renderer the Responses API uses);
    placeholders without a value stay as written and are marked, as in a text prompt's preview."""
    missing: dict[str, None] = {}
    characters = 0
    views = []
    for view in message_views(messages):
        blocks = []
        for block in view.blocks:
            if block.kind != "text":
                blocks.append(block)
                continue
            rendering = render(block.text, values)
            missing.update(dict.fromkeys(rendering.missing))
            characters += rendering.characters
            blocks.append(Block("text", rendering.text, tuple(rendering.parts)))
        views.append(MessageView(view.number, view.role, blocks))
    return ChatPreview(messages=views, missing=list(missing), characters=characters)


# ------------------------------------------------------------------------------------------ timeline
@dataclass(frozen=True)
class TimelineItem:
    """One row of a prompt's timeline: a version, or an entry of its history."""

    version: PromptVersion | None = None
    entry: HistoryEntry | None = None

    @property
    def at(self) -> float:
        return self.entry.created_at if self.entry is not None else (self.version.created_at or 0.0)


def timeline(versions: Iterable[PromptVersion], entries: Iterable[HistoryEntry]) -> list[TimelineItem]:
    """The versions and the history entries, newest first. A version still there stands for the entry that
    created it; a deleted version's entry stays, as the one trace of it. An entry written together with a version
    (the move of the default to it) comes above it."""
    versions = list(versions)
    shown = {v.version for v in versions}
    items = [TimelineItem(version=v) for v in versions]
    items += [
        TimelineItem(entry=e)
        for e in entries
        if not (e.action in ("created", "version_created") and e.version in shown)
    ]
    # Stable: entries (newest first) keep their order when their times are equal.
    return sorted(items, key=lambda item: (item.at, item.entry is not None), reverse=True)


# ------------------------------------------------------------------------------------------ replay
@dataclass(frozen=True)
class AnswerPiece:
    text: str
    kind: str  # "same", "removed" (only in the original answer) or "added" (only in the candidate's)


def answer_diff(old: str, new: str) -> list[AnswerPiece]:
    """A word diff of two answers, as one run of pieces: what both say, what only the original said, what only
    the candidate says. Plain text: the template escapes each piece as it renders it."""
    a, b = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    pieces: list[AnswerPiece] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            pieces.append(AnswerPiece("".join(a[i1:i2]), "same"))
            continue
        if i2 > i1:
            pieces.append(AnswerPiece("".join(a[i1:i2]), "removed"))
        if j2 > j1:
            pieces.append(AnswerPiece("".join(b[j1:j2]), "added"))
    return pieces
