"""Importing from llama-stack 0.7, OGX 1.5 and Langfuse.

The llama-stack and OGX stores (tests/prompts/data/*.db) are real ones, copied unchanged from the team's reference
samples: written by llama-stack 0.7.3 (`kv_sqlite`) and OGX 1.5.0 (`sql_sqlite`) through their HTTP APIs, with the
same sequence: a prompt with `{{ company }}` (version 1), version 2 not made the default, version 3 with a new
variable `{{language}}` as the default, the default moved back to version 1; then a second prompt
`Summarise: {{text}}`. The OGX importer is also run against PostgreSQL, with the same rows loaded into a
table of OGX's shape (and llama-stack's `kv_postgres` table shape) in a fresh database.

The Langfuse sample (tests/prompts/data/langfuse_prompts.json) follows what Langfuse's bulk export writes: its
export handler (`GET /api/public/prompts/export`, web/src/features/prompts/server/handlers/promptExportHandler.ts)
returns the project's `Prompt` rows ordered by name and version, the Prisma model's fields (id, createdAt,
updatedAt, projectId, createdBy, prompt, name, version, type, isActive, config, tags, labels, commitMessage); a chat
prompt's messages are `{role, content}` (optionally `type: "chatmessage"`) or `{type: "placeholder", name}`
(langfuse.com/docs/prompt-management/data-model). Version 3 of `movie-critic` is missing, as after a version delete.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from apps.prompts import selectors, transfer
from apps.prompts.sources import langfuse_prompt_id
from tests.support.postgres import connect, postgres_database
from tests.support.prompt_archives import export_text, import_paths, wipe_store, without_history
from tests.support.services import PG

DATA = Path(__file__).parent / "data"
KV_SAMPLE = DATA / "llama-stack-0.7.3-kvstore.db"
OGX_SAMPLE = DATA / "ogx-1.5.0-sql_store.db"
LANGFUSE_SAMPLE = DATA / "langfuse_prompts.json"
KV_FIRST = "pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280"
KV_SECOND = "pmpt_d4f231dd8e8cbe91630e8dd03a98dced158a3d49d3d8db7b"
OGX_FIRST = "pmpt_4c2f98c784929d634ef0f1c76ce0fb7ab8594058994d296a"
OGX_SECOND = "pmpt_d5ab6f46e3e9bcc14385b0a6a200f0b0c7cf22cb61d5108a"
TEXTS = [
    "You are a support agent for {{ company }}. Be brief.",
    "You are a support agent for {{ company }}. Be brief and kind.",
    "Support agent for {{company}} answering in {{language}}.",
]


def _versions(prompt_id: str) -> list[tuple[int, str, list[str]]]:
    return [(v.version, v.prompt, v.variables) for v in selectors.prompt_versions_list(prompt_id=prompt_id)]


def _assert_the_sample_prompts(first: str, second: str) -> None:
    assert _versions(first) == [
        (1, TEXTS[0], ["company"]),
        (2, TEXTS[1], ["company"]),
        (3, TEXTS[2], ["company", "language"]),
    ]
    assert selectors.prompt_get(prompt_id=first).version == 1  # the default was moved back to 1
    assert _versions(second) == [(1, "Summarise: {{text}}", ["text"])]
    rendered = selectors.prompt_render(prompt_id=first, version=3, variables={"company": "Acme", "language": "Welsh"})
    assert rendered.text == "Support agent for Acme answering in Welsh."


# ------------------------------------------------------------------------------------------ llama-stack 0.7
@pytest.mark.parametrize("prompts_backend", ["sqlite", "redis"], indirect=True)
def test_a_llama_stack_kvstore_file_imports_every_version_and_default(prompts_backend):
    outcomes = import_paths(KV_SAMPLE)
    assert [(o.prompt_id, o.action, o.versions) for o in outcomes] == [
        (KV_FIRST, "created", (1, 2, 3)),
        (KV_SECOND, "created", (1,)),
    ]
    _assert_the_sample_prompts(KV_FIRST, KV_SECOND)
    assert [o.action for o in import_paths(KV_SAMPLE)] == ["skipped", "skipped"]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_the_kvstore_file_is_opened_read_only(prompts_backend, tmp_path):
    copy = tmp_path / "kvstore.db"
    copy.write_bytes(KV_SAMPLE.read_bytes())
    copy.chmod(0o444)
    import_paths(copy)
    assert copy.read_bytes() == KV_SAMPLE.read_bytes()


# ------------------------------------------------------------------------------------------ OGX 1.5
@pytest.mark.parametrize("prompts_backend", ["sqlite", "postgres"], indirect=True)
def test_an_ogx_sql_store_file_imports_every_version_default_and_time(prompts_backend):
    outcomes = import_paths(OGX_SAMPLE)
    assert [(o.prompt_id, o.versions) for o in outcomes] == [(OGX_FIRST, (1, 2, 3)), (OGX_SECOND, (1,))]
    assert selectors.prompt_get(prompt_id=OGX_FIRST, version=2).created_at == 1796020237
    _assert_the_sample_prompts(OGX_FIRST, OGX_SECOND)


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_both_layouts_import_together_as_after_an_upgrade(prompts_backend):
    """An OGX deployment upgraded from 0.7: its old prompts in the KV file, its new ones in the SQL table."""
    outcomes = import_paths(KV_SAMPLE, OGX_SAMPLE)
    assert {o.prompt_id for o in outcomes} == {KV_FIRST, KV_SECOND, OGX_FIRST, OGX_SECOND}


def _sample_rows(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


def _load_into_postgres(database: str) -> None:
    """The samples' rows in tables of the shapes OGX's `sql_postgres` and llama-stack's `kv_postgres` create."""
    ogx = _sample_rows(
        OGX_SAMPLE,
        "SELECT id, prompt_id, version, is_default, created_at, prompt_data, access_attributes, owner_principal "
        "FROM prompts",
    )
    kv = _sample_rows(KV_SAMPLE, "SELECT key, value FROM kvstore")
    with connect(database) as db:
        db.execute(
            "CREATE TABLE prompts (id VARCHAR PRIMARY KEY, prompt_id VARCHAR, version INTEGER, is_default BOOLEAN, "
            "created_at INTEGER, prompt_data JSON, access_attributes JSON, owner_principal VARCHAR)"
        )
        db.cursor().executemany(
            "INSERT INTO prompts VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(i, p, v, bool(d), c, data, attrs, o) for i, p, v, d, c, data, attrs, o in ogx],
        )
        db.execute("CREATE TABLE llamastack_kvstore (key TEXT PRIMARY KEY, value TEXT, expiration TIMESTAMP)")
        db.cursor().executemany("INSERT INTO llamastack_kvstore (key, value) VALUES (%s, %s)", kv)


def _url(database: str, password: str = "") -> str:
    secret = f":{password}" if password else ""
    return f"postgresql://{PG['user']}{secret}@{PG['host']}:{PG['port']}/{database}"


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_ogx_and_llama_stack_tables_on_postgresql_import_as_from_their_files(prompts_backend):
    import_paths(OGX_SAMPLE, KV_SAMPLE)
    from_files = without_history(export_text())
    wipe_store()
    with postgres_database("ogx_") as database:
        _load_into_postgres(database)
        outcomes = import_paths(_url(database))
        assert {o.prompt_id for o in outcomes} == {KV_FIRST, KV_SECOND, OGX_FIRST, OGX_SECOND}
        assert without_history(export_text()) == from_files
        only_ogx, _ = transfer.read_archives([_url(database)], source="ogx")
    assert {p.prompt_id for _, p in only_ogx} == {OGX_FIRST, OGX_SECOND}


def test_a_postgresql_url_that_fails_is_named_without_its_password():
    url = _url("no_such_database_here", password="hunter2")
    with pytest.raises(transfer.TransferError) as caught:
        transfer.read_archives([url])
    message = str(caught.value)
    assert "hunter2" not in message
    assert message.startswith(f"postgresql://{PG['user']}:***@") and "cannot read from PostgreSQL" in message


def test_a_database_without_prompts_tables_is_named(tmp_path):
    empty = tmp_path / "other.db"
    with sqlite3.connect(empty) as db:
        db.execute("CREATE TABLE things (a, b)")
    with pytest.raises(transfer.TransferError, match=f"^{empty}: holds no llama-stack KV table"):
        transfer.read_archives([empty])
    with pytest.raises(transfer.TransferError, match="holds no OGX prompts table"):
        transfer.read_archives([KV_SAMPLE], source="ogx")
    with pytest.raises(transfer.TransferError, match="--from openai reads JSON/YAML"):
        transfer.read_archives([KV_SAMPLE], source="openai")


# ------------------------------------------------------------------------------------------ Langfuse
CRITIC = langfuse_prompt_id("movie-critic")
AGENT = langfuse_prompt_id("support/agent")


@pytest.mark.parametrize("prompts_backend", ["sqlite", "redis"], indirect=True)
def test_a_langfuse_export_keeps_versions_labels_authors_and_settings(prompts_backend):
    outcomes = import_paths(LANGFUSE_SAMPLE)
    assert [(o.prompt_id, o.action, o.versions) for o in outcomes] == [
        (CRITIC, "created", (1, 2, 3, 4)),
        (AGENT, "created", (1, 2)),
    ]
    assert [v.version for v in selectors.prompt_versions_list(prompt_id=CRITIC)] == [1, 2, 4]  # 3 was deleted
    default = selectors.prompt_get(prompt_id=CRITIC)
    assert (default.version, default.variables) == (2, ["criticlevel", "movie"])  # `production` is the default
    assert selectors.prompt_get(prompt_id=CRITIC, label="staging").version == 4
    first = selectors.prompt_get(prompt_id=CRITIC, version=1)
    assert first.settings == {"model": "gpt-4o", "temperature": 0.7, "max_output_tokens": 256}
    assert (first.created_by, first.message) == ("clk9user000001mvq2r8x4abc", "first draft")
    assert first.created_at == pytest.approx(1786353302.114)
    chat = selectors.prompt_get(prompt_id=AGENT, version=2)
    assert chat.messages[0] == {"role": "system", "content": "You support {{company}} customers. Be kind."}
    assert chat.settings["tools"][0]["name"] == "lookup_order"
    assert selectors.prompt_get(prompt_id=AGENT).settings["text"]["format"]["name"] == "answer"
    assert [o.action for o in import_paths(LANGFUSE_SAMPLE)] == ["skipped", "skipped"]


@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_langfuse_config_keys_that_are_not_settings_are_reported(prompts_backend):
    ((path, critic), _), _ = transfer.read_archives([LANGFUSE_SAMPLE])
    assert path == LANGFUSE_SAMPLE
    assert critic.origin == "Langfuse prompt 'movie-critic'"
    assert critic.notes == ["version 1: config keys not carried over (not model settings): supported_languages"]


LANGFUSE_BAD = {
    "placeholder": (
        [{"name": "chat", "version": 1, "type": "chat", "prompt": [{"type": "placeholder", "name": "history"}]}],
        "version 1: message placeholder 'history' has no equivalent",
    ),
    "reference": (
        [{"name": "composed", "version": 1, "prompt": "@@@langfusePrompt:name=base|label=production@@@"}],
        "version 1: it includes another prompt",
    ),
    "twice": (
        [{"name": "p", "version": 1, "prompt": "a"}, {"name": "p", "version": 1, "prompt": "b"}],
        "a version number appears twice",
    ),
    "bad_setting": (
        [{"name": "hot", "version": 1, "prompt": "a", "config": {"temperature": 9}}],
        "version 1: Invalid value for 'temperature'",
    ),
    "bad_time": ([{"name": "t", "version": 1, "prompt": "a", "createdAt": "yesterday"}], "'yesterday' is not a time"),
}


@pytest.mark.parametrize("case", LANGFUSE_BAD)
@pytest.mark.parametrize("prompts_backend", ["sqlite"], indirect=True)
def test_a_bad_langfuse_prompt_names_file_prompt_and_problem(prompts_backend, tmp_path, case):
    content, fragment = LANGFUSE_BAD[case]
    bad = tmp_path / "langfuse.json"
    bad.write_text(json.dumps(content))
    with pytest.raises(transfer.TransferError) as caught:
        transfer.read_archives([LANGFUSE_SAMPLE, bad])
    message = str(caught.value)
    assert message.startswith(f"{bad}: ") and f"Langfuse prompt {content[0]['name']!r}" in message
    assert fragment in message
    assert selectors.prompt_ids() == []


def test_a_virtual_table_in_an_uploaded_database_is_not_read(tmp_path):
    """A virtual table runs its module's code on every read: only plain tables are read (and the file's schema
    may call no function, trusted_schema being off)."""
    crafted = tmp_path / "crafted.db"
    with sqlite3.connect(crafted) as db:
        db.execute("CREATE VIRTUAL TABLE kvstore USING fts5(key, value)")
        db.execute("INSERT INTO kvstore VALUES ('prompts:v1:pmpt_x:1', '{}')")
    with pytest.raises(transfer.TransferError, match="holds no llama-stack KV table"):
        transfer.read_archives([crafted])
