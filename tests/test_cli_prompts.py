"""`stackadmin prompts export|import` run as a user runs them: the installed command, a run config, a home."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kv import empty_redis_namespace
from tests.support.names import unique
from tests.support.paths import ROOT
from tests.support.postgres import drop_table
from tests.support.prompt_archives import export_text, populate, without_added_imports
from tests.support.services import PG, REDIS, require_service

STACKADMIN = Path(sys.executable).with_name("stackadmin")
OPENAI_SAMPLE = ROOT / "tests" / "prompts" / "data" / "openai_prompts.json"
OPENAI_ID = "pmpt_68b0c29740048196bd3a6e6ac3c4d0e20ed9a13f0d15bf5e"


class Store:
    """A run config whose `prompts` store is on one backend, and the command run against it."""

    def __init__(self, tmp_path: Path, kind: str) -> None:
        self.kind, self.home = kind, tmp_path / unique("home_")
        self.table, self.namespace = unique("kv_io_"), unique("io_")
        if kind == "postgres":
            require_service("postgres")
            backend = (
                f"{{type: kv_postgres, host: {PG['host']}, port: {PG['port']}, db: {PG['db']}, user: {PG['user']}, "
                f"table_name: {self.table}}}"
            )
        elif kind == "redis":
            require_service("redis")
            backend = f"{{type: kv_redis, host: {REDIS['host']}, port: {REDIS['port']}}}"
        else:
            backend = '{type: kv_sqlite, db_path: "${env.STACKADMIN_HOME}/kv.db"}'
        self.config = tmp_path / f"{self.namespace}.yaml"
        self.config.write_text(
            f"""
storage:
  backends:
    kv_default: {backend}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql.db"}}
  stores:
    prompts: {{backend: kv_default, namespace: {self.namespace}}}
    metadata: {{backend: kv_default, namespace: {self.namespace}_registry}}
"""
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(STACKADMIN), "prompts", *args, "--config", str(self.config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "STACKADMIN_HOME": str(self.home)},
        )

    def export(self) -> str:
        result = self.run("export")
        assert result.returncode == 0, result.stderr
        return result.stdout

    def cleanup(self) -> None:
        if self.kind == "postgres":
            drop_table(self.table)
        elif self.kind == "redis":
            for namespace in (self.namespace, f"{self.namespace}_registry"):
                empty_redis_namespace(namespace)


@pytest.fixture
def store_on(tmp_path):
    made: list[Store] = []

    def make(kind: str = "sqlite") -> Store:
        made.append(Store(tmp_path, kind))
        return made[-1]

    yield make
    for store in made:
        store.cleanup()


@pytest.fixture
def archive(prompts_backend, tmp_path) -> Path:
    """An export of a store with text and chat prompts, versions, a moved default, a label and a deleted version."""
    populate()
    path = tmp_path / "archive.json"
    path.write_text(export_text())
    return path


def empty_export() -> str:
    return '{\n  "format": "stackadmin.prompts",\n  "prompts": [],\n  "version": 1\n}\n'


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_import_then_export_gives_the_archive_back(store_on, archive, kind):
    store = store_on(kind)
    imported = store.run("import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert without_added_imports(store.export(), archive.read_text()) == archive.read_text()


def test_moving_a_store_to_another_backend_through_a_directory(store_on, archive, tmp_path):
    source, target = store_on("sqlite"), store_on("redis")
    assert source.run("import", str(archive)).returncode == 0
    exported = source.run("export", "--output", str(tmp_path / "dump"))
    assert exported.returncode == 0, exported.stderr
    assert len(list((tmp_path / "dump").glob("pmpt_*.json"))) == 2
    assert target.run("import", str(tmp_path / "dump")).returncode == 0
    assert without_added_imports(target.export(), archive.read_text()) == archive.read_text()


def test_export_as_yaml_file_imports_back(store_on, archive, tmp_path):
    source, target = store_on(), store_on()
    source.run("import", str(archive))
    assert source.run("export", "--output", str(tmp_path / "all.yaml")).returncode == 0
    assert target.run("import", str(tmp_path / "all.yaml")).returncode == 0
    assert without_added_imports(target.export(), archive.read_text()) == archive.read_text()


def test_importing_twice_adds_nothing(store_on):
    store = store_on()
    store.run("import", str(OPENAI_SAMPLE))
    again = store.run("import", str(OPENAI_SAMPLE), "--verbose")
    assert f"skipped {OPENAI_ID} (already imported)" in again.stdout


def test_dry_run_prints_and_writes_nothing(store_on):
    store = store_on()
    result = store.run("import", str(OPENAI_SAMPLE), "--dry-run")
    assert f"would create {OPENAI_ID} versions 1, 2, 3" in result.stdout
    assert store.export() == empty_export()


def test_openai_import_then_export_keeps_id_and_versions(store_on):
    store = store_on()
    store.run("import", str(OPENAI_SAMPLE), "--owner", "alice")
    prompt = json.loads(store.export())["prompts"][0]
    assert (prompt["prompt_id"], [v["version"] for v in prompt["versions"]]) == (OPENAI_ID, [1, 2, 3])
    assert prompt["owner_principal"] == "alice"
    who = pwd.getpwuid(os.getuid()).pw_name  # the system user running the command
    assert {(e["action"], e["via"]) for e in prompt["history"]} == {("imported", f"command import by {who}")}


def test_a_conflict_under_fail_exits_non_zero_and_writes_nothing(store_on, tmp_path):
    store = store_on()
    store.run("import", str(OPENAI_SAMPLE))
    before = store.export()
    changed = json.loads(OPENAI_SAMPLE.read_text())
    changed[0]["instructions"] = "Something else for {{city}}."
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    result = store.run("import", str(path), "--on-conflict", "fail")
    assert result.returncode == 1
    assert f"{path}: prompt {OPENAI_ID}: Prompt '{OPENAI_ID}' exists and its version 1 differs" in result.stderr
    assert store.export() == before


def test_a_bad_file_among_good_ones_imports_nothing(store_on, tmp_path):
    store = store_on()
    bad = tmp_path / "truncated.json"
    bad.write_text(OPENAI_SAMPLE.read_text()[:300])
    result = store.run("import", str(OPENAI_SAMPLE), str(bad))
    assert result.returncode == 1
    assert f"{bad}: not valid JSON" in result.stderr
    assert store.export() == empty_export()


def test_skip_invalid_imports_the_rest_and_reports(store_on, tmp_path):
    store = store_on()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "pmpt_abc", "version": "1", "instructions": "Hi"}]))
    result = store.run("import", str(OPENAI_SAMPLE), str(bad), "--skip-invalid")
    assert f"skipped invalid prompt: {bad}: prompt pmpt_abc" in result.stderr
    assert [p["prompt_id"] for p in json.loads(store.export())["prompts"]] == [OPENAI_ID]


def test_export_of_one_prompt(store_on, archive):
    store = store_on()
    store.run("import", str(archive), str(OPENAI_SAMPLE))
    exported = json.loads(store.run("export", "--prompt", OPENAI_ID).stdout)
    assert [p["prompt_id"] for p in exported["prompts"]] == [OPENAI_ID]


DATA = ROOT / "tests" / "prompts" / "data"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_llama_stack_and_ogx_stores_move_in_and_stay_put_on_a_second_run(store_on, kind):
    """The real llama-stack 0.7.3 KV file and OGX 1.5.0 SQL store (tests/prompts/test_foreign_sources.py says how
    they were written), as a user upgrading from either would run it."""
    store = store_on(kind)
    sources = [str(DATA / "llama-stack-0.7.3-kvstore.db"), str(DATA / "ogx-1.5.0-sql_store.db")]
    dry = store.run("import", *sources, "--dry-run")
    assert "would create pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280 [llama-stack 0.7 KV store]" in dry.stdout
    assert "would create pmpt_4c2f98c784929d634ef0f1c76ce0fb7ab8594058994d296a [OGX 1.5 prompts table]" in dry.stdout
    assert store.export() == empty_export()
    first = store.run("import", *sources)
    assert first.returncode == 0, first.stderr
    assert "4 created, 0 added, 0 skipped; 0 invalid" in first.stderr
    again = store.run("import", *sources)
    assert "0 created, 0 added, 4 skipped" in again.stderr
    exported = {p["prompt_id"]: p for p in json.loads(store.export())["prompts"]}
    moved = exported["pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280"]
    assert (moved["default"], len(moved["versions"])) == (1, 3)


def test_langfuse_export_says_what_it_left_behind(store_on):
    store = store_on()
    result = store.run("import", str(DATA / "langfuse_prompts.json"), "--verbose")
    assert result.returncode == 0, result.stderr
    assert "[Langfuse prompt 'movie-critic'] versions 1, 2, 3, 4" in result.stdout
    assert "config keys not carried over (not model settings): supported_languages" in result.stdout
    prompts = json.loads(store.export())["prompts"]
    assert sorted(p["labels"].get("production") for p in prompts) == [1, 2]
