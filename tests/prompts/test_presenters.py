"""The diffs the dashboard shows between versions, and a prompt's timeline (pure functions, no storage)."""

from __future__ import annotations

from apps.prompts.presenters import (
    chat_preview,
    messages_diff,
    setting_rows,
    settings_diff,
    text_diff,
    timeline,
    variables_diff,
    version_diff,
)
from apps.prompts.records import HistoryEntry, PromptVersion


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


def chat(version: int, messages: list[dict], settings: dict | None = None, variables=("role", "name")) -> PromptVersion:
    return PromptVersion(
        prompt_id="p",
        prompt="(derived)",
        version=version,
        variables=list(variables),
        messages=messages,
        settings=settings or {},
    )


SYSTEM = {"role": "system", "content": "You are a {{ role }}.\nBe brief."}
USER = {"role": "user", "content": "Greet {{ name }}."}


def test_messages_pair_up_and_changed_ones_carry_a_line_diff():
    changed = {"role": "user", "content": "Greet {{ name }} warmly."}
    diff = messages_diff([SYSTEM, USER], [SYSTEM, changed])
    assert [(m.kind, m.old_number, m.new_number) for m in diff.messages] == [("equal", 1, 1), ("changed", 2, 2)]
    assert (diff.changed, diff.added, diff.removed) == (1, 0, 0)
    inserted = diff.messages[1].text.lines[1]
    assert [s.text.strip() for s in inserted.segments if s.changed] == ["warmly"]
    assert not diff.messages[1].role_changed


def test_a_message_inserted_in_front_leaves_the_others_unchanged():
    developer = {"role": "developer", "content": "Answer in French."}
    diff = messages_diff([SYSTEM, USER], [developer, SYSTEM, USER])
    assert [(m.kind, m.old_number, m.new_number) for m in diff.messages] == [
        ("added", None, 1),
        ("equal", 1, 2),
        ("equal", 2, 3),
    ]
    assert diff.added == 1
    removed = messages_diff([SYSTEM, USER], [SYSTEM])
    assert [(m.kind, m.old_role) for m in removed.messages] == [("equal", "system"), ("removed", "user")]
    assert removed.messages[1].text.removed == 1


def test_a_new_role_is_a_change():
    diff = messages_diff([USER], [{**USER, "role": "developer"}])
    (message,) = diff.messages
    assert (message.kind, message.old_role, message.new_role, message.role_changed) == (
        "changed",
        "user",
        "developer",
        True,
    )
    assert message.text.identical


def test_settings_changes_added_and_removed():
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    old = {"model": "gpt-5", "temperature": 0.2, "tools": [tool], "truncation": "disabled"}
    new = {"model": "gpt-5", "temperature": 0.7, "tools": [{**tool, "name": "get_time"}], "top_p": 0.5}
    diff = settings_diff(old, new)
    assert [(c.name, c.kind, c.old, c.new) for c in diff.changes if c.lines is None] == [
        ("temperature", "changed", "0.2", "0.7"),
        ("top_p", "added", None, "0.5"),
        ("truncation", "removed", "disabled", None),
    ]
    (tools,) = [c for c in diff.changes if c.name == "tools"]
    assert tools.lines.added == tools.lines.removed == 1  # the name's line, in the tools' JSON
    assert diff.kept == ["model"]
    assert settings_diff(old, dict(old)).identical


def test_version_diff_of_chat_templates_covers_messages_and_settings():
    old = chat(1, [SYSTEM, USER], {"temperature": 0.2})
    new = chat(2, [SYSTEM, {**USER, "content": "Hello {{ name }}."}], {"temperature": 0.2}, variables=["name"])
    diff = version_diff(old, new)
    assert diff.messages.changed == 1
    assert diff.variables.removed == ["role"]
    assert diff.settings.identical
    assert (diff.added, diff.removed) == (1, 1)
    assert not diff.identical
    assert version_diff(old, old).identical
    text = PromptVersion(prompt_id="p", prompt="Hi", version=3, variables=[])
    mixed = version_diff(text, new)
    assert mixed.messages is None  # a text and a chat template: their texts are compared
    assert mixed.kind_changed


def test_setting_rows_show_the_set_ones_in_order():
    rows = setting_rows({"tools": [{"type": "function", "name": "f"}], "model": "gpt-5", "parallel_tool_calls": False})
    assert [(r.name, r.label, r.structured) for r in rows] == [
        ("model", "Model", False),
        ("tools", "Tools", True),
        ("parallel_tool_calls", "Parallel tool calls", False),
    ]
    assert rows[2].text == "false"
    assert '"name": "f"' in rows[1].text


def test_chat_preview_renders_every_message_and_marks_what_is_missing():
    image = {"type": "input_image", "image_url": "https://example.com/cat.png"}
    messages = [SYSTEM, {"role": "user", "content": [{"type": "input_text", "text": "Greet {{ name }}."}, image]}]
    preview = chat_preview(messages, {"role": "pirate"})
    assert [(m.number, m.role) for m in preview.messages] == [(1, "system"), (2, "user")]
    system_text = preview.messages[0].blocks[0]
    assert system_text.text == "You are a pirate.\nBe brief."
    assert [(p.kind, p.text) for p in system_text.parts if p.kind != "text"] == [("value", "pirate")]
    user = preview.messages[1].blocks
    assert [(b.kind, b.text) for b in user] == [
        ("text", "Greet {{ name }}."),
        ("media", "Image: https://example.com/cat.png"),
    ]
    assert preview.missing == ["name"]
    assert preview.characters == len("You are a pirate.\nBe brief.") + len("Greet {{ name }}.")


def _entry(number: int, action: str, at: float, **fields) -> HistoryEntry:
    return HistoryEntry(id=f"phe_{number}", prompt_id="pmpt_x", action=action, created_at=at, **fields)


def test_the_timeline_puts_the_history_between_the_versions_newest_first():
    versions = [PromptVersion("pmpt_x", f"v{n}", n, [], created_at=10.0 * n) for n in (3, 1)]  # 2 is deleted
    entries = [  # newest first, as the selector gives them
        _entry(7, "version_deleted", 35.0, version=2),
        _entry(6, "label_moved", 30.0, version=3, label="beta"),
        _entry(5, "default_moved", 30.0, version=3, from_version=1),  # written with version 3
        _entry(4, "version_created", 30.0, version=3),
        _entry(3, "label_moved", 25.0, version=2, label="beta"),
        _entry(2, "version_created", 20.0, version=2),
        _entry(1, "created", 10.0, version=1),
    ]
    rows = [item.entry.id if item.entry else f"v{item.version.version}" for item in timeline(versions, entries)]
    # A version still there stands for the entry that made it; a deleted one's entry stays.
    assert rows == ["phe_7", "phe_6", "phe_5", "v3", "phe_3", "phe_2", "v1"]
