"""The diffs the dashboard shows between versions (pure functions, no storage)."""

from __future__ import annotations

from apps.prompts.presenters import text_diff, variables_diff, version_diff
from apps.prompts.records import PromptVersion


def test_identical_texts_have_no_changes():
    diff = text_diff("one\ntwo", "one\ntwo")
    assert diff.identical
    assert (diff.added, diff.removed) == (0, 0)


def test_changed_words_are_marked_inside_changed_lines():
    diff = text_diff("Keep it short.", "Keep it very short.")
    assert [line.kind for line in diff.lines] == ["delete", "insert"]
    deleted, inserted = diff.lines
    assert not any(s.changed for s in deleted.segments)  # nothing was taken out of that line
    assert "".join(s.text for s in inserted.segments) == "Keep it very short."
    assert [s.text.strip() for s in inserted.segments if s.changed] == ["very"]
    assert (deleted.old_number, inserted.new_number) == (1, 1)


def test_unrelated_lines_are_replaced_whole():
    diff = text_diff("alpha beta gamma", "completely different words here")
    assert all(not s.changed for line in diff.lines for s in line.segments)
    assert (diff.added, diff.removed) == (1, 1)


def test_long_unchanged_stretches_fold_around_changes():
    old = "\n".join(f"line {i}" for i in range(1, 31))
    new = old.replace("line 15", "line fifteen")
    diff = text_diff(old, new)
    kinds = [line.kind for line in diff.lines]
    assert kinds == ["skip", *["equal"] * 3, "delete", "insert", *["equal"] * 3, "skip"]
    assert diff.lines[0].skipped == 11
    assert diff.lines[-1].skipped == 12
    assert diff.lines[1].old_number == 12
    assert diff.lines[-2].new_number == 18


def test_additions_at_the_end_keep_their_line_numbers():
    diff = text_diff("a\nb", "a\nb\nc\nd")
    assert [(line.kind, line.new_number) for line in diff.lines] == [
        ("equal", 1),
        ("equal", 2),
        ("insert", 3),
        ("insert", 4),
    ]
    assert (diff.added, diff.removed) == (2, 0)


def test_variable_changes():
    diff = variables_diff(["doc", "tone"], ["doc", "reader"])
    assert (diff.added, diff.removed, diff.kept) == (["reader"], ["tone"], ["doc"])
    assert variables_diff(["a"], ["a"]).identical


def test_version_diff_combines_text_and_variables():
    old = PromptVersion(prompt_id="p", prompt="Hi {{ a }}", version=1, variables=["a"])
    new = PromptVersion(prompt_id="p", prompt="Hi {{ a }}", version=2, variables=["a", "b"])
    diff = version_diff(old, new)
    assert diff.text.identical
    assert not diff.identical
    assert diff.variables.added == ["b"]
