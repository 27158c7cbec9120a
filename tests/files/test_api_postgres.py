"""The Files API through the OpenAI SDK against a live server whose `files` store is PostgreSQL (2 workers)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from tests.support.files import manage, storage_dir, stored_files

pytestmark = pytest.mark.postgres


class TestFilesOnPostgres:
    def test_lifecycle(self, pg, pg_client):
        uploaded = pg_client.files.create(
            file=("pg.txt", b"stored in postgres"),
            purpose="assistants",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
        assert uploaded.expires_at == uploaded.created_at + 3600
        with pg.connect() as conn:
            row = conn.execute(
                "SELECT filename, purpose, bytes, path, owner_principal, access_attributes FROM openai_files "
                "WHERE public_id = %s",
                (uploaded.id,),
            ).fetchone()
        assert row == ("pg.txt", "assistants", 18, f"{uploaded.id[5:7]}/{uploaded.id}", "", None)
        assert pg_client.files.retrieve(uploaded.id).filename == "pg.txt"
        assert pg_client.files.content(uploaded.id).content == b"stored in postgres"
        assert uploaded.id in [f.id for f in pg_client.files.list(purpose="assistants")]
        assert pg_client.files.delete(uploaded.id).deleted is True
        assert stored_files(storage_dir(pg)) == []
        with pytest.raises(openai.NotFoundError):
            pg_client.files.retrieve(uploaded.id)

    def test_concurrent_uploads_on_both_workers_page_completely(self, pg, pg_client):
        def put(n: int) -> str:
            return pg_client.files.create(file=(f"c{n}.txt", str(n).encode()), purpose="vision").id

        with ThreadPoolExecutor(8) as pool:
            ids = set(pool.map(put, range(40)))
        listed = [f.id for f in pg_client.files.list(purpose="vision", limit=7)]
        assert len(listed) == 40
        assert set(listed) == ids
        assert len(stored_files(storage_dir(pg))) == 40
        for file_id in ids:
            pg_client.files.delete(file_id)

    def test_bad_input_writes_nothing(self, pg, pg_client):
        with pytest.raises(openai.BadRequestError):
            pg_client.files.create(file=("a/b.txt", b"x"), purpose="batch")
        with pytest.raises(openai.BadRequestError):
            pg_client.files.create(file=("a.txt", b"x"), purpose="nope")  # type: ignore[arg-type]
        with pg.connect() as conn:
            assert conn.execute("SELECT count(*) FROM openai_files").fetchone()[0] == 0
        assert stored_files(storage_dir(pg)) == []

    def test_expiry_and_purge(self, pg, pg_client):
        expiring = pg_client.files.create(
            file=("old.txt", b"old"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 3600}
        )
        kept = pg_client.files.create(file=("new.txt", b"new"), purpose="batch")
        with pg.connect() as conn:
            conn.execute(
                "UPDATE openai_files SET created_at = created_at - interval '2 hours', "
                "expires_at = expires_at - interval '2 hours' WHERE public_id = %s",
                (expiring.id,),
            )
        with pytest.raises(openai.NotFoundError):
            pg_client.files.content(expiring.id)
        assert [f.id for f in pg_client.files.list(purpose="batch")] == [kept.id]
        result = manage(pg, "purge_expired_files", config=pg.config_path)
        assert result.returncode == 0, result.stderr
        assert "Deleted 1 expired file (3 bytes)" in result.stdout
        with pg.connect() as conn:
            assert [r[0] for r in conn.execute("SELECT public_id FROM openai_files")] == [kept.id]
        assert stored_files(storage_dir(pg)) == [f"{kept.id[5:7]}/{kept.id}"]
        pg_client.files.delete(kept.id)
