"""The Conversations API through the OpenAI SDK against a live server whose store is PostgreSQL (2 workers)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.support.conversations import text_of, user

pytestmark = pytest.mark.postgres

# Run in a live server's own environment (`manage.py shell`): each page through the selector the endpoint calls,
# then every statement it ran again under EXPLAIN ANALYZE, adding up the rows PostgreSQL's scans read (kept or
# filtered out) over all their loops.
ROWS_READ = """
import json
from django.db import connections, router
from django.test.utils import CaptureQueriesContext
from apps.conversations import selectors
from apps.conversations.models import ConversationItem

def scanned(node):
    own = 0
    if node["Node Type"].endswith("Scan"):
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
    return own + sum(scanned(child) for child in node.get("Plans", ()))

connection = connections[router.db_for_read(ConversationItem)]
read = {{}}
for name, (conversation_id, after) in json.loads({pages}).items():
    with CaptureQueriesContext(connection) as captured:
        selectors.conversation_items_list(conversation_id=conversation_id, after=after)
    read[name] = 0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            read[name] += scanned(cursor.fetchone()[0][0]["Plan"])
print(json.dumps(read))
"""


def rows_read(pg, pages: dict[str, tuple[str, str | None]]) -> dict[str, int]:
    """For each named page (conversation id, `after` cursor), the rows PostgreSQL reads to list it."""
    out = pg.server.manage("shell", "-c", ROWS_READ.format(pages=repr(json.dumps(pages))))
    return json.loads(out.strip().splitlines()[-1])


class TestConversationsOnPostgres:
    def test_rows_are_in_postgres_with_ownership_columns(self, pg, pg_client):
        conversation = pg_client.conversations.create(metadata={"where": "pg"}, items=[user("hello")])
        with pg.connect() as conn:
            row = conn.execute(
                "SELECT metadata, owner_principal, access_attributes FROM openai_conversations WHERE public_id = %s",
                (conversation.id,),
            ).fetchone()
            items = conn.execute(
                "SELECT i.public_id, i.sequence, i.owner_principal, i.access_attributes FROM conversation_items i "
                "JOIN openai_conversations c ON c.id = i.conversation_id WHERE c.public_id = %s",
                (conversation.id,),
            ).fetchall()
        assert row == ({"where": "pg"}, "", None)
        assert [(seq, owner, attrs) for _, seq, owner, attrs in items] == [(1, "", None)]

    def test_lifecycle_and_cascade(self, pg, pg_client):
        conversation = pg_client.conversations.create(items=[user("a"), user("b")])
        added = pg_client.conversations.items.create(conversation.id, items=[user("c")])
        assert [text_of(i) for i in pg_client.conversations.items.list(conversation.id, order="asc")] == ["a", "b", "c"]
        assert text_of(pg_client.conversations.items.retrieve(added.data[0].id, conversation_id=conversation.id)) == "c"
        assert (
            pg_client.conversations.items.delete(added.data[0].id, conversation_id=conversation.id).id
            == conversation.id
        )
        assert pg_client.conversations.update(conversation.id, metadata={"x": "y"}).metadata == {"x": "y"}
        pg_client.conversations.delete(conversation.id)
        with pg.connect() as conn:
            left = conn.execute(
                "SELECT count(*) FROM conversation_items i LEFT JOIN openai_conversations c "
                "ON c.id = i.conversation_id WHERE c.id IS NULL"
            ).fetchone()[0]
        assert left == 0
        with pytest.raises(openai.NotFoundError):
            pg_client.conversations.items.list(conversation.id)

    def test_pagination_with_tied_timestamps(self, pg_client):
        # 20 at create (OpenAI's limit; one timestamp), 10 in one add (another).
        conversation = pg_client.conversations.create(items=[user(f"i{i:02d}") for i in range(20)])
        pg_client.conversations.items.create(conversation.id, items=[user(f"i{i:02d}") for i in range(20, 30)])
        expected = [f"i{i:02d}" for i in range(30)]
        for limit in (4, 30):
            assert [
                text_of(i) for i in pg_client.conversations.items.list(conversation.id, limit=limit, order="asc")
            ] == (expected)
            assert [text_of(i) for i in pg_client.conversations.items.list(conversation.id, limit=limit)] == expected[
                ::-1
            ]

    def test_errors_keep_their_status(self, pg_client):
        with pytest.raises(openai.BadRequestError):
            pg_client.conversations.retrieve("conv_nope")
        with pytest.raises(openai.NotFoundError):
            pg_client.conversations.retrieve("conv_" + "0" * 48)
        conversation = pg_client.conversations.create()
        with pytest.raises(openai.BadRequestError):
            pg_client.conversations.items.create(conversation.id, items=[user(str(i)) for i in range(21)])
        with pytest.raises(openai.BadRequestError):
            pg_client.conversations.items.list(conversation.id, after="msg_missing")

    def test_concurrent_adds_from_both_workers_get_distinct_ordered_sequences(self, pg, pg_client):
        conversation = pg_client.conversations.create()

        def writer(n: int) -> list[str]:
            with httpx.Client(base_url=pg.url + "/v1", timeout=60) as http:
                ids = []
                for k in range(10):
                    response = http.post(
                        f"/conversations/{conversation.id}/items",
                        json={"items": [user(f"w{n}-{k}-a"), user(f"w{n}-{k}-b")]},
                    )
                    assert response.status_code == 200, response.text
                    ids += [item["id"] for item in response.json()["data"]]
                return ids

        with ThreadPoolExecutor(8) as pool:
            per_writer = list(pool.map(writer, range(8)))
        listed = [i.id for i in pg_client.conversations.items.list(conversation.id, order="asc", limit=100)]
        assert len(listed) == 160
        assert len(set(listed)) == 160
        for ids in per_writer:  # each writer's items appear in the order it added them
            positions = [listed.index(item_id) for item_id in ids]
            assert positions == sorted(positions)
            assert all(positions[i + 1] == positions[i] + 1 for i in range(0, len(positions), 2))
        with pg.connect() as conn:
            sequences = [
                r[0]
                for r in conn.execute(
                    "SELECT i.sequence FROM conversation_items i JOIN openai_conversations c "
                    "ON c.id = i.conversation_id WHERE c.public_id = %s ORDER BY i.sequence",
                    (conversation.id,),
                )
            ]
        assert sequences == list(range(1, 161))

    def test_a_page_costs_the_same_with_100000_items(self, pg, pg_client):
        small = pg_client.conversations.create(items=[user(str(i)) for i in range(20)])
        pg_client.conversations.items.create(small.id, items=[user(str(i)) for i in range(20, 30)])
        big = pg_client.conversations.create()
        body = json.dumps(user("filler"))
        with pg.connect() as conn:
            conn.execute(
                "INSERT INTO conversation_items (conversation_id, public_id, sequence, type, data, created_at, "
                "owner_principal) SELECT c.id, 'msg_bulk_' || n, n, 'message', "
                "jsonb_set(%s::jsonb, '{id}', to_jsonb('msg_bulk_' || n)), now(), '' "
                "FROM openai_conversations c, generate_series(1, 100000) n WHERE c.public_id = %s",
                (body, big.id),
            )
            conn.execute("UPDATE openai_conversations SET last_item_sequence = 100000 WHERE public_id = %s", (big.id,))
            conn.execute("ANALYZE conversation_items")
            plan = "\n".join(
                r[0]
                for r in conn.execute(
                    # The statement conversation_items_list runs for a page after a cursor.
                    "EXPLAIN SELECT data FROM conversation_items WHERE conversation_id = (SELECT id FROM "
                    "openai_conversations WHERE public_id = %s LIMIT 1) AND sequence < (SELECT sequence FROM "
                    "conversation_items WHERE conversation_id = (SELECT id FROM openai_conversations WHERE "
                    "public_id = %s LIMIT 1) AND public_id = 'msg_bulk_50000' LIMIT 1) ORDER BY sequence DESC LIMIT 21",
                    (big.id, big.id),
                )
            )
        assert "conversation_item_sequence_uniq" in plan, plan
        assert "Sort" not in plan, plan

        pages = {"small": (small.id, None)}
        pages.update({f"big after {after}": (big.id, after) for after in (None, "msg_bulk_50000", "msg_bulk_21")})
        with httpx.Client(base_url=pg.url + "/v1", timeout=60) as http:
            for conversation_id, after in pages.values():
                response = http.get(f"/conversations/{conversation_id}/items", params={"after": after} if after else {})
                assert response.status_code == 200
                assert len(response.json()["data"]) == 20
        # What a page costs, counted instead of timed, is the same for both conversations: the 21 item rows a page
        # of 20 reads to know `has_more`, one row finding the conversation and at most two for the cursor's item
        # (a scan or a sort would read all 100000).
        read = rows_read(pg, pages)
        for name in pages:
            assert read[name] <= 21 + 1 + 2, (name, read)
        deep = pg_client.conversations.items.list(big.id, after="msg_bulk_50000", limit=3)
        assert [i.id for i in deep.data] == ["msg_bulk_49999", "msg_bulk_49998", "msg_bulk_49997"]


def _count(pg, table: str) -> int:
    with pg.connect() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


class TestUnstorableTextOnPostgres:
    """PostgreSQL cannot store NUL, NaN or a lone surrogate: each is a 400 naming the field, before any write."""

    @pytest.mark.parametrize(
        ("metadata", "param"),
        [({"k": "v\x00"}, "metadata.k"), ({"k\x00": "v"}, "metadata.k\\x00"), ({"k\udc80": "v"}, "metadata.k\\udc80")],
    )
    def test_create_with_unstorable_metadata(self, pg, metadata, param):
        before = _count(pg, "openai_conversations")
        with httpx.Client(base_url=pg.url + "/v1", timeout=30) as http:
            response = http.post(
                "/conversations",
                content=json.dumps({"metadata": metadata}),
                headers={"content-type": "application/json"},
            )
            listed = http.get("/conversations")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param
        assert _count(pg, "openai_conversations") == before
        assert listed.status_code == 200

    @pytest.mark.parametrize(
        ("extra", "param"),
        [
            ({"content": "a\x00b"}, "items[0].content"),
            ({"content": "x", "score": float("nan")}, "items[0].score"),
            ({"content": "x", "score": float("inf")}, "items[0].score"),
        ],
    )
    def test_add_unstorable_items(self, pg, pg_client, extra, param):
        conversation = pg_client.conversations.create()
        before = _count(pg, "conversation_items")
        with httpx.Client(base_url=pg.url + "/v1", timeout=30) as http:
            response = http.post(
                f"/conversations/{conversation.id}/items",
                content=json.dumps({"items": [{"type": "message", "role": "user", **extra}]}),
                headers={"content-type": "application/json"},
            )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == param
        assert _count(pg, "conversation_items") == before

    def test_nul_in_an_item_id_path_parameter(self, pg, pg_client):
        conversation = pg_client.conversations.create(items=[user("a")])
        with httpx.Client(base_url=pg.url + "/v1", timeout=30) as http:
            response = http.get(f"/conversations/{conversation.id}/items/msg_%00")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "item_id"
