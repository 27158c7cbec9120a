"""Export and import of prompts through the services and selectors: a round trip on every KV backend, OpenAI prompt
objects, idempotence, dry runs, each `on_conflict` mode, and archives that import nothing.

The OpenAI sample (tests/prompts/data/openai_prompts.json) follows what OpenAI documents of a prompt: the
Responses API's `prompt` parameter, ResponsePrompt `{id, version (a string), variables (a map of name to value)}`
(platform.openai.com/docs/api-reference/responses/create), prompts created in the dashboard with `{{variable}}`
placeholders in any message (developers.openai.com/api/docs/guides/prompting), and the version's model settings as
`responses.create` takes them (model, instructions, tools, text, reasoning, temperature, top_p,
max_output_tokens). OpenAI documents no endpoint returning a prompt version's whole object, so `instructions`,
`messages`, `created_at` and `is_default` at the top level of a version are how users copy it, not a confirmed
shape; `variables` as a list of names is accepted as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.core.errors import ConflictError
from apps.prompts import selectors, services, transfer
from apps.prompts.keys import version_key
from apps.storage.kv import kv_stores
from tests.support.prompt_archives import export_text, import_paths, populate, wipe_store, without_added_imports

OPENAI_SAMPLE = Path(__file__).parent / "data" / "openai_prompts.json"
OPENAI_ID = "pmpt_68b0c29740048196bd3a6e6ac3c4d0e20ed9a13f0d15bf5e"


@pytest.mark.parametrize("prompts_backend", ["sqlite", "postgres", "redis"], indirect=True)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_round_trip_through_an_empty_store_gives_the_same_export(prompts_backend, tmp_path, fmt):
    populate()
    first = export_text(fmt)
    archive = tmp_path / f"prompts.{fmt}"
    archive.write_text(first)
    wipe_store()
    import_paths(archive)
    assert without_added_imports(export_text(fmt), first, fmt) == first


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_imported_prompt_serves_its_versions_labels_and_history(prompts_backend, tmp_path):
    text_id, chat_id = populate()
    original = [(e.id, e.action, e.version, e.label) for e in selectors.prompt_history(prompt_id=text_id).data]
    assert {"created", "version_created", "default_moved", "label_moved"} <= {action for _, action, _, _ in original}
    archive = tmp_path / "prompts.json"
    archive.write_text(export_text())
    wipe_store()
    import_paths(archive)
    assert selectors.prompt_get(prompt_id=text_id).version == 2
    assert selectors.prompt_get(prompt_id=text_id, label="staging").prompt == "Hey {{ name }}!"
    assert selectors.prompt_get(prompt_id=text_id, version=1).created_by == "ada"
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=chat_id)] == [1, 3]
    history = selectors.prompt_history(prompt_id=text_id, limit=20).data
    assert [(e.id, e.action, e.version, e.label) for e in history if e.action != "imported"] == original
    assert sorted((e.version, e.actor) for e in history if e.action == "imported") == [(1, "ada"), (2, None), (3, None)]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_new_prompt_keeps_its_id_version_numbers_and_owner(prompts_backend, tmp_path):
    text_id, _ = populate()
    archive = tmp_path / "prompts.json"
    archive.write_text(export_text())
    wipe_store()
    import_paths(archive, owner="bob")
    assert selectors.prompt_dump(prompt_id=text_id).versions[2].owner_principal == "bob"


@pytest.mark.parametrize("prompts_backend", ["sqlite", "redis"], indirect=True)
def test_openai_prompt_objects_keep_id_and_version_numbers(prompts_backend):
    outcomes = import_paths(OPENAI_SAMPLE)
    assert [(o.action, o.versions) for o in outcomes] == [("created", (1, 2, 3))]
    default = selectors.prompt_get(prompt_id=OPENAI_ID)
    assert default.version == 2
    assert default.variables == ["city", "unit"]
    assert default.messages[0] == {
        "role": "developer",
        "content": "You are a weather assistant for {{city}}. Answer in {{unit}}.",
    }
    assert default.settings["tools"][0]["name"] == "get_weather"
    assert selectors.prompt_get(prompt_id=OPENAI_ID, version=3).settings == {
        "model": "gpt-4o-mini",
        "top_p": 0.9,
        "max_output_tokens": 256,
    }
    assert selectors.prompt_get(prompt_id=OPENAI_ID, version=1).created_at == 1751980000


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_openai_prompt_renders_with_its_variables(prompts_backend):
    import_paths(OPENAI_SAMPLE)
    rendered = selectors.prompt_render(prompt_id=OPENAI_ID, version=3, variables={"city": "Oslo"})
    assert rendered.text == "Weather for Oslo, briefly."


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_importing_the_same_source_twice_adds_nothing(prompts_backend, tmp_path):
    populate()
    archive = tmp_path / "prompts.json"
    archive.write_text(export_text())
    before = export_text()
    outcomes = import_paths(archive) + import_paths(OPENAI_SAMPLE) + import_paths(OPENAI_SAMPLE)
    assert [o.action for o in outcomes] == ["skipped", "skipped", "created", "skipped"]
    after = [p for p in json.loads(export_text())["prompts"] if p["prompt_id"] != OPENAI_ID]
    assert after == json.loads(before)["prompts"]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_dry_run_says_what_would_happen_and_writes_nothing(prompts_backend, tmp_path):
    outcomes = import_paths(OPENAI_SAMPLE, dry_run=True)
    assert [(o.action, o.versions) for o in outcomes] == [("created", (1, 2, 3))]
    assert kv_stores["prompts"].keys_in_range("", "\U0010ffff") == []


def newer_sample(tmp_path) -> Path:
    """The OpenAI sample with version 3 changed and a version 4 added."""
    objects = json.loads(OPENAI_SAMPLE.read_text())
    objects[2]["instructions"] = "Weather for {{city}}, in one line."
    objects.append({**objects[2], "version": "4", "instructions": "Weather: {{city}}"})
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(objects))
    return path


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_versions_missing_from_the_store_are_added_with_their_numbers(prompts_backend, tmp_path):
    objects = json.loads(OPENAI_SAMPLE.read_text())
    first_two = tmp_path / "two.json"
    first_two.write_text(json.dumps(objects[:2]))
    import_paths(first_two)
    outcomes = import_paths(OPENAI_SAMPLE, on_conflict="fail")
    assert [(o.action, o.versions) for o in outcomes] == [("added", (3,))]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_on_conflict_fail_refuses_and_writes_nothing(prompts_backend, tmp_path):
    import_paths(OPENAI_SAMPLE)
    before = export_text()
    with pytest.raises(ConflictError, match="version 3 differs"):
        import_paths(newer_sample(tmp_path), on_conflict="fail")
    assert export_text() == before


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_on_conflict_skip_leaves_the_prompt_alone(prompts_backend, tmp_path):
    import_paths(OPENAI_SAMPLE)
    before = export_text()
    outcomes = import_paths(newer_sample(tmp_path), on_conflict="skip")
    assert [o.action for o in outcomes] == ["skipped"]
    assert export_text() == before


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_on_conflict_new_version_appends_once(prompts_backend, tmp_path):
    import_paths(OPENAI_SAMPLE)
    newer = newer_sample(tmp_path)
    first = import_paths(newer, on_conflict="new-version")
    again = import_paths(newer, on_conflict="new-version")
    assert [(o.action, o.versions) for o in first + again] == [("added", (4, 5)), ("skipped", ())]
    assert selectors.prompt_get(prompt_id=OPENAI_ID, version=4).prompt == "Weather for {{city}}, in one line."


BAD = {
    "unknown format": ({"hello": "world"}, "unknown format"),
    "version gap": (
        [
            {"id": OPENAI_ID, "version": "1", "instructions": "a"},
            {"id": OPENAI_ID, "version": "3", "instructions": "b"},
        ],
        f"prompt {OPENAI_ID}: versions must be numbered 1..N without gaps: version 2 is missing",
    ),
    "undeclared variable": (
        [{"id": OPENAI_ID, "version": "1", "instructions": "Hi {{ who }}"}],
        f"prompt {OPENAI_ID} version 1: ",
    ),
    "bad setting": (
        [{"id": OPENAI_ID, "version": "1", "instructions": "Hi", "temperature": 9}],
        f"prompt {OPENAI_ID} version 1: ",
    ),
    "bad id": ([{"id": "pmpt_abc", "version": "1", "instructions": "Hi"}], "prompt pmpt_abc: not a prompt id"),
}


def _archive_with_history(*entries: dict) -> dict:
    version = {"version": 1, "prompt": "Hi", "variables": []}
    prompt = {"prompt_id": OPENAI_ID, "default": 1, "versions": [version], "history": list(entries)}
    return {"format": "stackadmin.prompts", "version": 1, "prompts": [prompt]}


ENTRY = {"id": "phe_0176449800000000000012ab34cd", "action": "created", "created_at": 1764498000.0, "version": 1}
BAD["history twice"] = (_archive_with_history(ENTRY, ENTRY), f"history entry {ENTRY['id']} appears twice")
BAD["history action"] = (_archive_with_history({**ENTRY, "action": "exploded"}), "history.0.action: Input should be")
BAD["history version"] = (_archive_with_history({**ENTRY, "version": 7}), "names version 7, which is missing")
BAD["history id"] = (_archive_with_history({**ENTRY, "id": "phe_x"}), "history.0.id: String should match pattern")


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_bad_archive_names_file_prompt_and_problem(prompts_backend, tmp_path, case):
    content, fragment = BAD[case]
    good = tmp_path / "a_good.json"
    good.write_text(OPENAI_SAMPLE.read_text())
    bad = tmp_path / "b_bad.json"
    bad.write_text(json.dumps(content))
    with pytest.raises(transfer.TransferError) as caught:
        transfer.read_archives([good, bad])
    assert str(caught.value).startswith(f"{bad}: ")
    assert fragment in str(caught.value)


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_truncated_json_is_named(prompts_backend, tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_text(OPENAI_SAMPLE.read_text()[:200])
    with pytest.raises(transfer.TransferError, match=f"^{bad}: not valid JSON"):
        transfer.read_archives([bad])


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_duplicate_prompt_id_across_files_is_refused(prompts_backend, tmp_path):
    copy = tmp_path / "copy.json"
    copy.write_text(OPENAI_SAMPLE.read_text())
    with pytest.raises(transfer.TransferError, match=f"prompt {OPENAI_ID}: duplicate id"):
        transfer.read_archives([OPENAI_SAMPLE, copy])


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_skip_invalid_reports_the_prompt_and_keeps_the_rest(prompts_backend, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "pmpt_abc", "version": "1", "instructions": "Hi"}]))
    prompts, skipped = transfer.read_archives([OPENAI_SAMPLE, bad], skip_invalid=True)
    assert [p.prompt_id for _, p in prompts] == [OPENAI_ID]
    assert skipped == [f"{bad}: prompt pmpt_abc: not a prompt id ('pmpt_' followed by 48 lowercase hex characters)"]


@pytest.mark.parametrize("prompts_backend", ["sqlite", "postgres", "redis"], indirect=True)
def test_an_import_that_loses_a_race_writes_nothing(prompts_backend):
    """A key of the prompt written by someone else between the import's read and its write: the batch (which
    requires every key absent) is refused whole."""
    (_, prompt), *_ = transfer.read_archives([OPENAI_SAMPLE])[0]
    store = kv_stores["prompts"]
    store.set(version_key(OPENAI_ID, 3), "written meanwhile")
    with pytest.raises(ConflictError, match="was written while it was being imported"):
        services.prompt_import(prompt=prompt)
    assert store.keys_in_range("", "\U0010ffff") == [version_key(OPENAI_ID, 3)]


# ------------------------------------------------------------------------------------------ a person imports
@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_the_policys_create_rules_apply_to_a_users_import(prompts_backend, settings, tmp_path):
    from apps.core.policy import parse_policy
    from apps.core.principal import Principal

    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"permit": {"actions": ["read", "update", "delete"]}, "when": "user is owner"},
            {"permit": {"actions": ["create"]}, "when": "user with writers in roles"},
        ]
    )
    archive = tmp_path / "openai.json"
    archive.write_text(OPENAI_SAMPLE.read_text())
    reader = Principal("rita", {"roles": ["readers"]}, via="dashboard")
    report = services.prompts_import(paths=[archive], principal=reader)
    assert [(r.prompt_id, r.action, r.reason) for r in report.rows] == [
        (OPENAI_ID, "refused", "You may not create a prompt.")
    ]
    assert selectors.prompt_dump(prompt_id=OPENAI_ID) is None
    writer = Principal("will", {"roles": ["writers"]}, via="dashboard")
    assert [r.action for r in services.prompts_import(paths=[archive], principal=writer).rows] == ["created"]
    assert selectors.prompt_dump(prompt_id=OPENAI_ID).versions[0].owner_principal == "will"
    # The command (no principal) is not judged by the policy, and keeps what is there.
    assert [o.action for o in import_paths(archive)] == ["skipped"]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_users_import_sets_protected_labels_only_if_they_may_promote(prompts_backend, settings, tmp_path):
    import dataclasses

    from apps.core.policy import parse_policy
    from apps.core.principal import Principal
    from apps.prompts.config import PromptsConfig

    text_id, _ = populate()  # the text prompt has the label `staging`
    archive = tmp_path / "prompts.json"
    archive.write_text(export_text())
    wipe_store()
    settings.STACKADMIN_RUN_CONFIG = dataclasses.replace(
        settings.STACKADMIN_RUN_CONFIG, prompts=PromptsConfig(protected_labels=("staging",))
    )
    settings.STACKADMIN_AUTH_ENABLED = True
    settings.STACKADMIN_ACCESS_POLICY = parse_policy(
        [
            {"permit": {"actions": ["create", "read", "update", "delete"]}, "when": "user is owner"},
            {"permit": {"actions": ["promote"]}, "when": "user with releasers in roles"},
        ]
    )
    user = Principal("ursula", {"roles": ["writers"]}, via="dashboard")
    rows = {r.prompt_id: r for r in services.prompts_import(paths=[archive], principal=user).rows}
    assert rows[text_id].action == "refused"
    assert "protected label 'staging'" in rows[text_id].reason
    assert selectors.prompt_dump(prompt_id=text_id) is None
    releaser = Principal("rob", {"roles": ["releasers"]}, via="dashboard")
    rows = {r.prompt_id: r for r in services.prompts_import(paths=[archive], principal=releaser).rows}
    assert rows[text_id].action == "created"
    assert selectors.prompt_dump(prompt_id=text_id).labels == {"staging": 3}


OPENAI_WITH_TOOLS = {
    "id": "pmpt_" + "a1" * 24,
    "object": "prompt",
    "version": "1",
    "is_default": True,
    "model": "gpt-4.1",
    "instructions": "Answer from the docs.",
    "tools": [
        {"type": "web_search", "filters": {"allowed_domains": ["docs.python.org"]}, "search_context_size": "medium"},
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://mcp.example.com/mcp",
            "allowed_tools": ["search"],
            "require_approval": "never",
            "headers": {"X-Api-Key": "s3cret"},
            "authorization": "tok3n",
        },
        {"type": "web_search_preview"},
    ],
}


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_openai_web_search_and_mcp_tools_import_without_secrets_and_round_trip(prompts_backend, tmp_path):
    source = tmp_path / "openai.json"
    source.write_text(json.dumps([OPENAI_WITH_TOOLS]))
    ((_, read),), _ = transfer.read_archives([source])
    assert read.notes == [
        "version 1: tools[1] ('docs'): headers, authorization not imported (secrets are never stored in prompts; "
        "give them in each request's tools)"
    ]
    import_paths(source)
    stored = selectors.prompt_get(prompt_id=OPENAI_WITH_TOOLS["id"]).settings["tools"]
    mcp = {
        name: value for name, value in OPENAI_WITH_TOOLS["tools"][1].items() if name not in ("headers", "authorization")
    }
    assert stored == [
        OPENAI_WITH_TOOLS["tools"][0],
        {**mcp, "server_description": None},
        {"type": "web_search_preview"},
    ]
    text = export_text()
    assert "s3cret" not in text
    assert "tok3n" not in text
    archive = tmp_path / "export.json"
    archive.write_text(text)
    wipe_store()
    import_paths(archive)
    assert selectors.prompt_get(prompt_id=OPENAI_WITH_TOOLS["id"]).settings["tools"] == stored
