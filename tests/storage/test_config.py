"""Run config loading: llama-stack's storage section, env substitution, and one clear line per mistake."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from apps.core.config import ConfigError
from apps.storage.config import KVPostgresBackend, SqlPostgresBackend
from apps.storage.databases import backend_aliases, django_databases, store_alias
from stackadmin.config import load_config, parse_config, substitute_env
from tests.support.paths import ROOT

LLAMA_STACK_RUN_YAML = """
version: 2
image_name: starter
apis: [agents, inference, prompts, files]
providers:
  inference:
  - provider_id: openai
    provider_type: remote::openai
    config: {api_key: "${env.OPENAI_API_KEY:=}"}
storage:
  backends:
    kv_default:
      type: kv_sqlite
      db_path: ${env.SQLITE_STORE_DIR:=~/.ogx/distributions/starter}/kvstore.db
    sql_default:
      type: sql_sqlite
      db_path: ${env.SQLITE_STORE_DIR:=~/.ogx/distributions/starter}/sql_store.db
  stores:
    metadata: {backend: kv_default, namespace: registry}
    inference: {backend: sql_default, table_name: inference_store, max_write_queue_size: 10000, num_writers: 4}
    conversations: {backend: sql_default, table_name: openai_conversations}
    prompts: {backend: kv_default, namespace: prompts}
    connectors: {backend: kv_default, namespace: connectors}
registered_resources: {models: []}
server: {port: 8321}
"""


def write(tmp_path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def load(tmp_path, text: str, env: dict | None = None):
    return load_config(write(tmp_path, text), environ={"STACKADMIN_HOME": str(tmp_path), **(env or {})})


def error_of(tmp_path, text: str, env: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, env)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_built_in_default_uses_sqlite_under_home(tmp_path):
    config = load_config(None, environ={"STACKADMIN_HOME": str(tmp_path)})
    assert config.source == "built-in default"
    assert config.storage.backends["kv_default"].db_path == str(tmp_path / "kvstore.db")
    assert config.storage.backends["sql_default"].db_path == str(tmp_path / "sql_store.db")
    assert {
        name: (ref.backend, getattr(ref, "namespace", None) or ref.table_name)
        for name, ref in config.storage.stores.items()
    } == {
        "metadata": ("kv_default", "registry"),
        "prompts": ("kv_default", "prompts"),
        "inference": ("sql_default", "inference_store"),
        "conversations": ("sql_default", "openai_conversations"),
        "responses": ("sql_default", "openai_responses"),
        "files": ("sql_default", "openai_files"),
    }
    assert config.files.storage_dir == str(tmp_path / "files")


def test_llama_stack_storage_section_loads_unchanged(tmp_path):
    config = load(tmp_path, LLAMA_STACK_RUN_YAML, {"SQLITE_STORE_DIR": "/data"})
    assert config.storage.backends["kv_default"].db_path == "/data/kvstore.db"
    assert config.storage.stores["inference"].num_writers == 4
    # registered_resources (models) and providers (inference) are read since the inference providers arrived.
    assert [w.split("'")[1] for w in config.warnings] == ["image_name", "apis"]


def test_env_substitution_forms_and_coercion():
    env = {"HOST": "db.internal", "PORT": "6543", "FLAG": "TRUE", "RATIO": "0.5", "EMPTY": ""}
    tree = {
        "a": "${env.HOST}",
        "b": "${env.PORT}",
        "c": "${env.FLAG}",
        "d": "${env.RATIO}",
        "e": "${env.MISSING:=fallback}",
        "f": "${env.EMPTY:=used-when-empty}",
        "g": "${env.HOST:+set}",
        "h": "${env.MISSING:+set}",
        "i": "postgres://${env.HOST}:${env.PORT}/x",
        "j": ["${env.MISSING:=}"],
        "k": "~/data/${env.HOST}",
        "l": "${env.MISSING:=~/home-default}",
        "m": 7,
    }
    out = substitute_env(tree, environ=env)
    assert out["a"] == "db.internal"
    assert out["b"] == 6543
    assert out["c"] is True
    assert out["d"] == 0.5
    assert out["e"] == "fallback"
    assert out["f"] == "used-when-empty"
    assert out["g"] == "set"
    assert out["h"] is None
    assert out["i"] == "postgres://db.internal:6543/x"
    assert out["j"] == [None]
    assert out["k"] == os.path.expanduser("~/data/db.internal")  # a substituted string starting with ~ expands
    assert not out["l"].startswith("~")
    assert out["l"].endswith("home-default")
    assert out["m"] == 7


def test_unset_env_without_default_names_the_path(tmp_path):
    message = error_of(
        tmp_path,
        """
        storage:
          backends:
            pg: {type: kv_postgres, user: app, password: "${env.PG_PASSWORD}"}
            sql_default: {type: sql_sqlite, db_path: /tmp/x.db}
          stores:
            prompts: {backend: pg, namespace: prompts}
            metadata: {backend: pg, namespace: registry}
    """,
    )
    assert message.startswith("storage.backends.pg.password: environment variable PG_PASSWORD is not set")


def test_malformed_yaml_names_line_and_column(tmp_path):
    message = error_of(tmp_path, "storage:\n  backends: [unclosed\n  stores: {}\n")
    assert "invalid YAML at line" in message
    assert "run.yaml" in message


def test_unknown_backend_lists_the_declared_ones(tmp_path):
    message = error_of(
        tmp_path,
        """
        storage:
          backends:
            kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}
            sql_default: {type: sql_sqlite, db_path: /tmp/sql.db}
          stores:
            prompts: {backend: kv_main, namespace: prompts}
    """,
    )
    assert message == (
        "storage.stores.prompts references backend 'kv_main', which is not declared; declared: kv_default, sql_default"
    )


@pytest.mark.parametrize(
    ("store", "backend", "family"),
    [("prompts", "sql_default", "kv"), ("conversations", "kv_default", "sql")],
)
def test_wrong_family(tmp_path, store, backend, family):
    name_field = "namespace: x" if family == "kv" else "table_name: openai_conversations"
    message = error_of(
        tmp_path,
        f"""
        storage:
          backends:
            kv_default: {{type: kv_sqlite, db_path: /tmp/kv.db}}
            sql_default: {{type: sql_sqlite, db_path: /tmp/sql.db}}
          stores:
            {store}: {{backend: {backend}, {name_field}}}
    """,
    )
    assert message.startswith(f"storage.stores.{store} references backend '{backend}' of type")
    assert f"needs a {family}_* backend" in message


def test_backend_type_typo(tmp_path):
    message = error_of(
        tmp_path,
        """
        storage:
          backends:
            kv_default: {type: kv_sqllite, db_path: /tmp/kv.db}
    """,
    )
    assert message.startswith("storage.backends.kv_default.type: unknown backend type 'kv_sqllite'; supported:")


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("{type: kv_postgres, host: db}", "storage.backends.b.user: required field is missing"),
        ("{type: kv_sqlite}", "storage.backends.b.db_path: required field is missing"),
        ("{db_path: /tmp/x.db}", "storage.backends.b.type: required field is missing"),
        ("{type: kv_redis, port: many}", "storage.backends.b.port:"),
        ("{type: kv_redis, hots: localhost}", "storage.backends.b.hots: unknown field"),
        ("{type: sql_postgres, user: u, pool_size: 0}", "storage.backends.b.pool_size:"),
        ("{type: kv_postgres, user: u, table_name: 'bad name'}", "storage.backends.b.table_name:"),
    ],
)
def test_backend_field_errors(tmp_path, backend, expected):
    message = error_of(tmp_path, f"storage:\n  backends:\n    b: {backend}\n")
    assert message.startswith(expected), message


def test_store_errors(tmp_path):
    base = """
        storage:
          backends:
            kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}
            sql_default: {type: sql_sqlite, db_path: /tmp/sql.db}
          stores:
    """
    assert error_of(tmp_path, base + "        prompts: {backend: kv_default}\n") == (
        "storage.stores.prompts.namespace: required field is missing"
    )
    message = error_of(tmp_path, base + "        conversations: {backend: sql_default, table_name: convs}\n")
    assert message.startswith("storage.stores.conversations.table_name: 'convs' is not supported")
    assert "openai_conversations" in message
    message = error_of(tmp_path, "storage:\n  backends:\n    kv_default: {type: kv_sqlite, db_path: /tmp/k.db}\n")
    assert message.startswith("storage.stores.inference is not set and its default backend 'sql_default' is not")


def test_honoured_table_names_and_unknown_stores(tmp_path):
    config = load(
        tmp_path,
        """
        storage:
          backends:
            kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}
            sql_default: {type: sql_sqlite, db_path: /tmp/sql.db}
          stores:
            responses: {backend: sql_default, table_name: openai_responses, num_writers: 2}
            connectors: {backend: kv_default, namespace: connectors}
    """,
    )
    assert config.storage.stores["responses"].num_writers == 2
    assert "connectors" not in config.storage.stores
    assert "nope" in error_of(
        tmp_path,
        """
        storage:
          backends:
            kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}
            sql_default: {type: sql_sqlite, db_path: /tmp/sql.db}
          stores:
            connectors: {backend: nope, namespace: connectors}
    """,
    )


def test_sql_backends_become_database_aliases():
    config = parse_config(
        {
            "storage": {
                "backends": {
                    "kv_default": {"type": "kv_sqlite", "db_path": "/tmp/kv.db"},
                    "sql_default": {"type": "sql_sqlite", "db_path": "/tmp/sql.db"},
                    "pg": {"type": "sql_postgres", "user": "app", "host": "db", "pool_size": 4, "max_overflow": 2},
                },
                "stores": {
                    "conversations": {"backend": "pg", "table_name": "openai_conversations"},
                    "responses": {"backend": "pg", "table_name": "openai_responses"},
                },
            }
        },
        source="t",
        home="/tmp/h",
    )
    assert backend_aliases(config.storage) == {"sql_default": "default", "pg": "pg"}
    assert store_alias(config.storage, "conversations") == store_alias(config.storage, "responses") == "pg"
    assert store_alias(config.storage, "files") == "default"
    databases = django_databases(config.storage)
    assert databases["pg"]["ENGINE"] == "django.db.backends.postgresql"
    assert databases["pg"]["OPTIONS"]["pool"]["max_size"] == 6
    assert databases["pg"]["CONN_MAX_AGE"] == 0
    assert databases["default"]["NAME"] == "/tmp/sql.db"
    assert isinstance(config.storage.backends["pg"], SqlPostgresBackend)
    assert KVPostgresBackend(type="kv_postgres", user="u").table_name == "ogx_kvstore"  # llama-stack's default


def test_manage_py_check_reports_the_same_line(tmp_path):
    path = write(tmp_path, "storage:\n  backends:\n    kv_default: {type: kv_nope}\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "STACKADMIN_CONFIG": path, "STACKADMIN_HOME": str(tmp_path / "home")},
    )
    assert result.returncode != 0
    assert "stackadmin.E001) storage.backends.kv_default.type: unknown backend type 'kv_nope'" in result.stderr
    assert not (tmp_path / "home").exists()


def test_channel_layer_must_name_a_redis_backend(tmp_path):
    base = """
        storage:
          backends:
            kv_default: {type: kv_sqlite, db_path: /tmp/kv.db}
            sql_default: {type: sql_sqlite, db_path: /tmp/sql.db}
            events: {type: kv_redis, host: 127.0.0.1}
        server:
    """
    config = load(tmp_path, base + "          channel_layer: {backend: events}\n")
    assert config.server["channel_layer"] == {"backend": "events"}
    assert "of type 'kv_sqlite'" in error_of(tmp_path, base + "          channel_layer: {backend: kv_default}\n")
    assert "not declared" in error_of(tmp_path, base + "          channel_layer: {backend: nope}\n")
