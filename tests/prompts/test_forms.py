"""The editor form: the same template rules as the API, and the chip buttons applied before they are checked."""

from __future__ import annotations

from django.http import QueryDict

import pytest

from apps.core.errors import BadRequestError
from apps.prompts.forms import PromptForm
from apps.prompts.records import PromptVersion
from apps.prompts.templating import validate_template


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
    assert form.values == {
        "text": "Hi {{ a }}\n",
        "variables": ["a", "b"],
        "message": "why",
        "make_default": True,
        "base_version": 3,
    }


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
    assert unchanged.problem == "Nothing to save: the text and variables are the same as version 3."
    from_older = PromptForm(posted(text="Hi {{ a }}", variables=["a"], base_version="2"), latest=LATEST)
    assert from_older.is_valid()  # the same text on an older base: the save is the one to tell of the conflict
    checking = PromptForm(posted(text="Hi {{ a }}", variables=["a"], check="1"), latest=LATEST)
    assert checking.problem is None
