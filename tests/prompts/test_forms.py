"""The editor form: the same template rules as the API, and the chip buttons applied before they are checked."""

from __future__ import annotations

import json

from django.http import QueryDict

import pytest

from apps.core.errors import BadRequestError
from apps.core.model_settings import settings_given
from apps.core.validation import validated
from apps.prompts.forms import PromptForm, field_of
from apps.prompts.records import PromptVersion
from apps.prompts.schemas import VersionContent
from apps.prompts.templating import validate_messages, validate_template


def posted(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in fields.items():
        data.setlist(name, value if isinstance(value, list) else [value])
    return data


@pytest.mark.parametrize(
    ("text", "variables"),
    [("Hi {{ name }}", []), ("Hi {{ name", ["name"]), ("", []), ("Hi {{ 1x }}", []), ("Hi", ["bad-name"])],
)
def test_problems_read_as_the_api_words_them(text, variables):
    form = PromptForm(posted(text=text, variables=variables))
    assert not form.is_valid()
    with pytest.raises(BadRequestError) as api:
        validate_template(text=text, variables=variables)
    assert form.problem == api.value.message


def test_a_valid_form_is_cleaned_as_the_editor_shows_it():
    form = PromptForm(
        posted(
            text="Hi {{ a }}\r\n",
            variables=["a", "b", "a"],
            message="  why  ",
            make_default="on",
            base_version="3",
        )
    )
    assert form.is_valid()
    assert form.problem is None
    shown = form.values
    assert {name: shown[name] for name in ("kind", "text", "variables", "message", "make_default", "base_version")} == {
        "kind": "text",
        "text": "Hi {{ a }}\n",
        "variables": ["a", "b"],
        "message": "why",
        "make_default": True,
        "base_version": 3,
    }
    assert shown["errors"] == {}
    assert form.content == {"text": "Hi {{ a }}\n", "messages": None, "variables": ["a", "b"], "settings": {}}


def test_a_base_version_that_is_not_a_number_is_unknown():
    assert PromptForm(posted(text="x", base_version="latest")).values["base_version"] is None
    assert PromptForm(posted(text="x")).values["base_version"] is None


def test_chip_buttons_are_applied_and_save_nothing():
    declare = PromptForm(posted(text="{{ a }} {{ b }}", declare="b"))
    assert declare.declaring
    assert declare.is_valid()  # declaring re-renders the editor: the undeclared `a` is no problem yet
    assert declare.values["variables"] == ["b"]
    every = PromptForm(posted(text="{{ a }} {{ b }} {{ 9x }}", variables=["b"], declare_all="1"))
    assert every.values["variables"] == ["b", "a"]
    removed = PromptForm(posted(text="{{ a }}", variables=["a", "b"], undeclare="a"))
    assert removed.values["variables"] == ["b"]
    ignored = PromptForm(posted(text="no placeholders", declare="ghost"))
    assert ignored.values["variables"] == []


LATEST = PromptVersion(prompt_id="pmpt_" + "0" * 48, prompt="Hi {{ a }}", version=3, variables=["a"])


def test_an_edit_builds_on_the_latest_version_unless_the_editor_names_one():
    assert PromptForm(posted(text="x"), latest=LATEST).values["base_version"] == 3
    assert PromptForm(posted(text="x", base_version="2"), latest=LATEST).values["base_version"] == 2


def test_saving_the_latest_version_again_unchanged_is_refused():
    unchanged = PromptForm(posted(text="Hi {{ a }}", variables=["a"]), latest=LATEST)
    assert not unchanged.is_valid()
    assert unchanged.problem == "Nothing to save: the text, variables and settings are the same as version 3."
    from_older = PromptForm(posted(text="Hi {{ a }}", variables=["a"], base_version="2"), latest=LATEST)
    assert from_older.is_valid()  # the same text on an older base: the save is the one to tell of the conflict
    checking = PromptForm(posted(text="Hi {{ a }}", variables=["a"], check="1"), latest=LATEST)
    assert checking.problem is None


def chat_posted(*messages: tuple[str, str], **fields) -> QueryDict:
    return posted(
        kind="chat",
        message_role=[role for role, _ in messages],
        message_content=[content for _, content in messages],
        message_format=["text"] * len(messages),
        **fields,
    )


@pytest.mark.parametrize(
    ("messages", "variables", "field"),
    [
        ([("user", "Hi {{ name }}")], [], "variables"),
        ([("system", "ok"), ("user", "Hi {{ name")], ["name"], "message-1"),
        ([("system", "ok"), ("robot", "Hi")], [], "message-1"),
        ([], [], "messages"),
    ],
)
def test_chat_problems_read_as_the_api_words_them_next_to_their_field(messages, variables, field):
    form = PromptForm(chat_posted(*messages, variables=variables))
    assert not form.is_valid()
    body = {"messages": [{"role": role, "content": content} for role, content in messages], "variables": variables}
    with pytest.raises(BadRequestError) as api:
        checked = validated(VersionContent, body)
        validate_messages(messages=checked.messages, variables=variables)
    assert form.problems == {field: api.value.message}
    assert field_of(api.value.param) == field


@pytest.mark.parametrize(
    ("param", "field"),
    [
        ("prompt", "text"),
        ("messages[3].content[0].text", "message-3"),
        ("messages", "messages"),
        ("variables", "variables"),
        ("tools[0].parameters.type", "tools"),
        ("tool_choice.name", "tool_choice"),
        ("text.format.schema", "text_format"),
        ("text", "text_format"),
        ("text.verbosity", "verbosity"),
        ("reasoning.effort", "reasoning_effort"),
        ("reasoning.summary", "reasoning_summary"),
        ("temperature", "temperature"),
        ("version", "form"),
        (None, "form"),
    ],
)
def test_a_problem_goes_next_to_the_field_its_param_names(param, field):
    assert field_of(param) == field


def test_a_chat_template_and_settings_are_cleaned_as_the_services_take_them():
    form = PromptForm(
        chat_posted(
            ("developer", "Be {{ tone }}.\r\n"),
            ("user", "Hi"),
            variables=["tone"],
            temperature="1",
            max_output_tokens="64",
            tool_choice="none",
            reasoning_summary="auto",
        )
    )
    assert form.is_valid(), form.problems
    assert form.content == {
        "text": None,
        "messages": [{"role": "developer", "content": "Be {{ tone }}.\n"}, {"role": "user", "content": "Hi"}],
        "variables": ["tone"],
        "settings": {
            "temperature": 1.0,
            "max_output_tokens": 64,
            "tool_choice": "none",
            "reasoning": {"summary": "auto"},
        },
    }


def test_content_parts_are_edited_as_json():
    parts = [
        {"type": "input_text", "text": "Look at {{ thing }}"},
        {"type": "input_image", "image_url": "https://x/y.png"},
    ]
    stored = PromptVersion(
        prompt_id=LATEST.prompt_id,
        prompt="",
        version=1,
        variables=["thing"],
        messages=[{"role": "user", "content": parts}],
    )
    shown = PromptForm.initial_values(source=stored)
    assert shown["messages"][0]["format"] == "parts"
    assert json.loads(shown["messages"][0]["content"]) == parts
    again = posted(
        kind="chat",
        message_role=["user"],
        message_content=[shown["messages"][0]["content"]],
        message_format=["parts"],
        variables=["thing"],
    )
    form = PromptForm(again)
    assert form.is_valid(), form.problems
    assert form.content["messages"] == [{"role": "user", "content": parts}]
    # Placeholders in a text part count for the chips.
    chips = PromptForm(posted(**{**again, "variables": []}, declare_all="1")).values["variables"]
    assert chips == ["thing"]


def test_an_unchanged_chat_version_is_refused_and_a_changed_setting_is_not():
    latest = PromptVersion(
        prompt_id=LATEST.prompt_id,
        prompt="[user]\nHi",
        version=2,
        variables=[],
        messages=[{"role": "user", "content": "Hi"}],
        settings={"temperature": 0.5},
    )
    same = PromptForm(chat_posted(("user", "Hi"), temperature="0.5"), latest=latest)
    assert same.problem == "Nothing to save: the messages, variables and settings are the same as version 2."
    warmer = PromptForm(chat_posted(("user", "Hi"), temperature="0.6"), latest=latest)
    assert warmer.is_valid()


def test_every_setting_comes_back_from_the_editor_as_it_was_stored():
    tool = {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}
    settings = settings_given(
        {
            "model": "gpt-5",
            "temperature": 0.25,
            "top_p": 1,
            "max_output_tokens": 300,
            "tools": [tool],
            "tool_choice": {"type": "function", "name": "f"},
            "parallel_tool_calls": False,
            "text": {
                "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}},
                "verbosity": "high",
            },
            "reasoning": {"effort": "minimal", "summary": "concise"},
            "truncation": "disabled",
        }
    )
    stored = PromptVersion(prompt_id=LATEST.prompt_id, prompt="Hi", version=1, variables=[], settings=settings)
    shown = PromptForm.initial_values(source=stored)
    assert (shown["temperature"], shown["parallel_tool_calls"], shown["tool_choice"]) == (
        "0.25",
        "false",
        '{"type": "function", "name": "f"}',
    )
    posted_back = {name: value for name, value in shown.items() if isinstance(value, str)}
    form = PromptForm(posted(**posted_back, base_version="1"), latest=stored)
    assert form.problem == "Nothing to save: the text, variables and settings are the same as version 1."
    fresh = PromptForm(posted(**posted_back))
    assert fresh.is_valid(), fresh.problems
    assert fresh.content["settings"] == settings
