"""A store outage is one answer, whichever store it is: 503 with code `store_unavailable` (a SQL store's database
errors were a 500, a KV backend's a 503 without a code)."""

from __future__ import annotations

import httpx

from tests.support.outages import cut_off
from tests.support.postgres import postgres_database
from tests.support.services import PG


def run_config(database: str) -> str:
    """Prompts (a KV store) and conversations (a SQL store) in one PostgreSQL database, the rest on SQLite."""
    server = f'host: "{PG["host"]}", port: {PG["port"]}, user: {PG["user"]}, db: {database}'
    return f"""
storage:
  backends:
    kv_default: {{type: kv_sqlite, db_path: "${{env.STACKADMIN_HOME}}/kvstore.db"}}
    sql_default: {{type: sql_sqlite, db_path: "${{env.STACKADMIN_HOME}}/sql_store.db"}}
    pg_kv: {{type: kv_postgres, {server}}}
    pg_sql: {{type: sql_postgres, {server}}}
  stores:
    prompts: {{backend: pg_kv, namespace: prompts}}
    conversations: {{backend: pg_sql, table_name: openai_conversations}}
"""


def test_sql_and_kv_store_outages_are_the_same_503(start_server):
    with postgres_database() as database:
        server = start_server(run_config(database))
        with httpx.Client(base_url=server.url + "/v1", timeout=60) as http:
            assert http.post("/prompts", json={"prompt": "up"}).status_code == 200
            assert http.post("/conversations", json={}).status_code == 200
            cut_off(database)
            answers = {
                "kv": http.post("/prompts", json={"prompt": "down"}),
                "sql": http.post("/conversations", json={}),
            }
        server.stop()  # before the database is dropped
    for store, answer in answers.items():
        assert answer.status_code == 503, (store, answer.text)
        assert answer.json()["error"]["code"] == "store_unavailable", store
