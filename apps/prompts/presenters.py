"""Prompt versions shaped for people: the diffs between two versions that the dashboard shows.

Pure functions over strings and `PromptVersion` records, with no storage access: the dashboard's views fetch
records through the selectors and hand them here, so the same shaping serves saved versions and unsaved text
(a conflict diff compares the text being edited with the newest saved version). Templates are read only by
apps.prompts.templating (placeholders, the editor's report of them, rendering); presenters only present.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from apps.prompts.records import PromptVersion

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
class VersionDiff:
    old: PromptVersion
    new: PromptVersion
    text: TextDiff
    variables: VariablesDiff

    @property
    def identical(self) -> bool:
        return self.text.identical and self.variables.identical


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


def version_diff(old: PromptVersion, new: PromptVersion) -> VersionDiff:
    return VersionDiff(
        old=old,
        new=new,
        text=text_diff(old.prompt or "", new.prompt or ""),
        variables=variables_diff(old.variables, new.variables),
    )
