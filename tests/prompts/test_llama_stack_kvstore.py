"""A llama-stack `kvstore.db` holding prompts is served as-is when the run config points at it: in the layout
later llama-stack releases write (keys under the store's namespace, `prompts:prompts:v1:…`) and in the one the real
llama-stack 0.7.3 wrote (`prompts:v1:…`, no namespace prefix; tests/prompts/data/llama-stack-0.7.3-kvstore.db)."""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
from pathlib import Path

import httpx

REAL_KVSTORE = Path(__file__).parent / "data" / "llama-stack-0.7.3-kvstore.db"


def write_llama_stack_kvstore(path) -> dict[str, list[dict]]:
    """Write prompts exactly as llama-stack's prompts service does (namespace `prompts`, its JSON records)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS kvstore (key TEXT PRIMARY KEY, value TEXT, expiration TIMESTAMP)")
    prompts: dict[str, list[dict]] = {}
    for texts, default in ((["Summarise {{ doc }}", "Summarise {{ doc }} in {{ n }} words"], 2), (["Plain"], 1)):
        pid = "pmpt_" + secrets.token_hex(24)
        records = []
        for number, text in enumerate(texts, start=1):
            variables = [v for v in ("doc", "n") if "{{ " + v + " }}" in text]
            record = {"prompt_id": pid, "prompt": text, "version": number, "variables": variables, "is_default": False}
            conn.execute(
                "INSERT INTO kvstore VALUES (?, ?, NULL)", (f"prompts:prompts:v1:{pid}:{number}", json.dumps(record))
            )
            records.append(record)
        conn.execute("INSERT INTO kvstore VALUES (?, ?, NULL)", (f"prompts:prompts:v1:{pid}:default", str(default)))
        prompts[pid] = records
    conn.commit()
    conn.close()
    return prompts


def llama_stack_config(kvstore, tmp_path) -> str:
    return f"""
version: 2
image_name: starter
apis: [inference, prompts]
storage:
  backends:
    kv_default: {{type: kv_sqlite, db_path: {kvstore}}}
    sql_default: {{type: sql_sqlite, db_path: {tmp_path / "sql_store.db"}}}
  stores:
    metadata: {{backend: kv_default, namespace: registry}}
    prompts: {{backend: kv_default, namespace: prompts}}
    inference: {{backend: sql_default, table_name: inference_store}}
    conversations: {{backend: sql_default, table_name: openai_conversations}}
"""


def test_llama_stack_kvstore_is_served_as_is(tmp_path, start_server):
    kvstore = tmp_path / "kvstore.db"
    prompts = write_llama_stack_kvstore(kvstore)
    server = start_server(llama_stack_config(kvstore, tmp_path))
    api = httpx.Client(base_url=server.url + "/v1", timeout=30)
    listed = {p["prompt_id"]: p for p in api.get("/prompts").json()["data"]}
    assert set(listed) == set(prompts)
    summarise = next(pid for pid, records in prompts.items() if len(records) == 2)
    assert listed[summarise]["version"] == 2
    assert listed[summarise]["is_default"] is True
    assert listed[summarise]["variables"] == ["doc", "n"]
    assert listed[summarise]["created_at"] is None  # llama-stack records carry no timestamps
    versions = api.get(f"/prompts/{summarise}/versions").json()["data"]
    assert [(v["version"], v["is_default"], v["prompt"]) for v in versions] == [
        (1, False, "Summarise {{ doc }}"),
        (2, True, "Summarise {{ doc }} in {{ n }} words"),
    ]

    # Writes keep llama-stack's layout, so llama-stack could read the store back.
    api.put(
        f"/prompts/{summarise}", json={"prompt": "Short {{ doc }}", "variables": ["doc"], "version": 2}
    ).raise_for_status()
    conn = sqlite3.connect(kvstore)
    rows = dict(conn.execute("SELECT key, value FROM kvstore WHERE key LIKE ?", (f"prompts:prompts:v1:{summarise}:%",)))
    conn.close()
    assert rows[f"prompts:prompts:v1:{summarise}:default"] == "3"
    v3 = json.loads(rows[f"prompts:prompts:v1:{summarise}:3"])
    assert {k: v3[k] for k in ("prompt_id", "prompt", "version", "variables", "is_default")} == {
        "prompt_id": summarise,
        "prompt": "Short {{ doc }}",
        "version": 3,
        "variables": ["doc"],
        "is_default": False,
    }
    api.close()


def test_a_real_llama_stack_0_7_3_kvstore_is_served_in_its_own_layout(tmp_path, start_server):
    kvstore = tmp_path / "kvstore.db"
    shutil.copyfile(REAL_KVSTORE, kvstore)
    server = start_server(llama_stack_config(kvstore, tmp_path))
    api = httpx.Client(base_url=server.url + "/v1", timeout=30)
    first = "pmpt_583e8031d88beb6931ac6411ba900e889c8faecc37131280"
    listed = {p["prompt_id"]: p for p in api.get("/prompts").json()["data"]}
    assert set(listed) == {first, "pmpt_d4f231dd8e8cbe91630e8dd03a98dced158a3d49d3d8db7b"}
    assert (listed[first]["version"], listed[first]["variables"]) == (1, ["company"])  # the default moved back to 1
    versions = api.get(f"/prompts/{first}/versions").json()["data"]
    assert [(v["version"], v["is_default"]) for v in versions] == [(1, True), (2, False), (3, False)]

    updated = api.put(f"/prompts/{first}", json={"prompt": "Hi {{ company }}", "variables": ["company"], "version": 3})
    assert updated.status_code == 200, updated.text
    conn = sqlite3.connect(kvstore)
    keys = [k for (k,) in conn.execute("SELECT key FROM kvstore WHERE key LIKE ?", (f"%{first}%",))]
    conn.close()
    assert f"prompts:v1:{first}:4" in keys and not any(k.startswith("prompts:prompts:") for k in keys)
    api.close()
