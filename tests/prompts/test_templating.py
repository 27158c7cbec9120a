"""The template language: placeholder grammar, the rules a saved template meets, and the one renderer."""

from __future__ import annotations

import pytest

from apps.core.errors import BadRequestError
from apps.prompts.templating import (
    analyze_template,
    declarable,
    message_body,
    messages_text,
    render,
    template_report,
    texts_report,
    valid_name,
    validate_template,
)


def test_analysis_finds_placeholders_and_malformed_openings():
    analysis = analyze_template("{{a}} {{ b }} {{a}} {{ c")
    assert analysis.placeholders == ["a", "b"]
    assert analysis.malformed[0].snippet == "{{ c"
    assert analysis.undeclared(["b"]) == ["a"]


def test_template_report_sorts_placeholders_into_chips():
    report = template_report("Hi {{ name }}, {{ place }} {{ name }} {{ 2x }} {{ oops", ["name", "unused", "bad-name"])
    assert [(c.name, c.state) for c in report.chips] == [
        ("name", "declared"),
        ("place", "undeclared"),
        ("2x", "invalid"),
        ("unused", "unused"),
    ]
    assert report.declared == ["name", "unused"]  # names that cannot be variables are dropped
    assert report.undeclared == ["place"]
    assert [(m.line, m.column, m.snippet) for m in report.malformed] == [(1, 48, "{{ oops")]
    assert report.to_fix == 2
    assert report.problems == 3


def test_malformed_placeholders_are_located_by_line_and_column():
    report = template_report("first line\nsecond {{ ok }}\n  third {{ not ok }}", ["ok"])
    assert [(m.line, m.column) for m in report.malformed] == [(3, 9)]


def test_declarable_keeps_valid_names_in_order():
    assert declarable("{{ b }} {{ a }} {{ 1c }} {{ b }}") == ["b", "a"]


@pytest.mark.parametrize(("name", "valid"), [("doc", True), ("prénom", True), ("1x", False), ("a-b", False)])
def test_variable_names(name, valid):
    assert valid_name(name) is valid


def test_variable_names_have_a_length_limit():
    assert valid_name("x" * 64)
    assert not valid_name("x" * 65)


def test_validation_returns_the_declared_variables_once_each_in_order():
    assert validate_template(text="{{ b }} {{ a }}", variables=["b", "a", "b", "unused"]) == ["b", "a", "unused"]
    assert validate_template(text="no placeholders", variables=None) == []


@pytest.mark.parametrize(
    ("text", "variables", "param", "code"),
    [
        ("Hi {{ name }}", [], "variables", "undeclared_variables"),
        ("Hi {{ name", ["name"], "prompt", "invalid_placeholder"),
        ("Hi {{ 1x }}", [], "prompt", "invalid_placeholder"),
        ("x" * 200_001, [], "prompt", "string_above_max_length"),
        ("Hi", "name", "variables", None),
        (5, [], "prompt", None),
    ],
)
def test_validation_problems_name_their_field(text, variables, param, code):
    with pytest.raises(BadRequestError) as caught:
        validate_template(text=text, variables=variables)
    assert caught.value.param == param
    assert caught.value.code == code


def test_render_substitutes_and_reports_placeholders_without_a_value():
    rendering = render("Hi {{ name }} {{x}}", {"name": "Ada"})
    assert rendering.text == "Hi Ada {{x}}"
    assert rendering.missing == ["x"]


@pytest.mark.parametrize(
    ("text", "values", "expected", "missing"),
    [
        ("Hi {{ name }}, from {{place}}.", {"name": "Ada"}, "Hi Ada, from {{place}}.", ["place"]),
        ("{{a}}{{b}}{{a}}", {"a": "1", "b": "{{ a }}"}, "1{{ a }}1", []),
        ("no placeholders", {}, "no placeholders", []),
        ("{{ x }} {{ broken", {"x": "<b>"}, "<b> {{ broken", []),
        ("{{ a }}{{ a }}", {}, "{{ a }}{{ a }}", ["a"]),
    ],
)
def test_the_parts_are_the_rendered_text(text, values, expected, missing):
    """The preview's marked parts and the text a model is sent are one rendering."""
    rendering = render(text, values)
    assert rendering.text == expected
    assert "".join(p.text for p in rendering.parts) == rendering.text
    assert rendering.missing == missing
    assert {p.name for p in rendering.parts if p.kind == "missing"} == set(missing)
    assert rendering.characters == len(expected)


def test_render_parts():
    rendering = render("Hi {{ name }} from {{ place }}", {"name": "Ada"})
    assert [(p.kind, p.text) for p in rendering.parts] == [
        ("text", "Hi "),
        ("value", "Ada"),
        ("text", " from "),
        ("missing", "{{ place }}"),
    ]
    assert rendering.missing == ["place"]
    assert rendering.characters == len("Hi Ada from {{ place }}")


def test_a_report_over_several_texts_has_one_set_of_chips_and_says_where_each_problem_is():
    texts = [("Message 1", "You are {{ role }}."), ("Message 2", "Greet {{ name }} as a {{ role }} {{ oops")]
    report = texts_report(texts, ["role", "unused"])
    assert [(c.name, c.state) for c in report.chips] == [
        ("role", "declared"),
        ("name", "undeclared"),
        ("unused", "unused"),
    ]
    assert [(m.where, m.line, m.column, m.snippet) for m in report.malformed] == [("Message 2", 1, 34, "{{ oops")]
    assert template_report("{{ x", []).malformed[0].where == ""


def test_a_message_body_is_its_text_or_its_parts_one_a_line():
    assert message_body({"role": "user", "content": "Hi"}) == "Hi"
    parts = [
        {"type": "input_text", "text": "Look:"},
        {"type": "input_image", "image_url": "https://example.com/a.png"},
        {"type": "input_file", "file_id": "file-" + "0" * 32, "filename": "a.pdf"},
    ]
    assert message_body({"role": "user", "content": parts}) == "Look:\n[image]\n[file: a.pdf]"
    assert messages_text([{"role": "system", "content": "A"}, {"role": "user", "content": parts[:1]}]) == (
        "[system]\nA\n\n[user]\nLook:"
    )
