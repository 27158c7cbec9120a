"""The Files API through the real OpenAI SDK against a live `stackadmin run` (SQLite), with the bytes on the local
disk and in an S3-compatible bucket (moto's server, tests/support/s3.py): every test using `server` runs on both."""

from __future__ import annotations

import hashlib
import json
import os

import httpx
import openai
import pytest

from tests.support.files import (
    PeakRSS,
    age_file_sqlite,
    remove_stored,
    storage_dir,
    stored,
    stored_bytes,
    stored_files,
)
from tests.support.inference import raw_http, sdk
from tests.support.live_server import LiveServer

MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request, stackadmin_server, tmp_path_factory):
    if request.param == "local":
        yield stackadmin_server
        return
    s3 = request.getfixturevalue("s3")
    home = tmp_path_factory.mktemp("s3-home")
    bucket = s3.new_bucket()
    (home / "run.yaml").write_text(s3.storage_yaml(bucket))
    live = LiveServer(home, str(home / "run.yaml"))
    live.s3, live.bucket = s3, bucket
    yield live
    live.stop()


@pytest.fixture(scope="module")
def client(server):
    with sdk(server, timeout=120) as openai_client:
        yield openai_client


@pytest.fixture(scope="module")
def http(server):
    with raw_http(server, timeout=120) as raw:
        yield raw


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


# ------------------------------------------------------------------------------------------ llama-stack's suite
def test_openai_client_basic_operations(client):
    test_content = b"files test content"
    uploaded = client.files.create(file=("openai_test.txt", test_content), purpose="assistants")
    assert uploaded.id.startswith("file-")
    assert len(uploaded.id) == 37
    assert (uploaded.object, uploaded.filename, uploaded.bytes, uploaded.purpose) == (
        "file",
        "openai_test.txt",
        len(test_content),
        "assistants",
    )
    assert uploaded.expires_at is None
    assert uploaded.status == "processed"
    assert uploaded.id in [f.id for f in client.files.list()]
    retrieved = client.files.retrieve(uploaded.id)
    assert retrieved.model_dump() == uploaded.model_dump()
    assert client.files.content(uploaded.id).content == test_content
    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (uploaded.id, "file", True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    assert uploaded.id not in [f.id for f in client.files.list()]
    with pytest.raises(openai.NotFoundError):
        client.files.delete(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)


def test_expires_after_as_the_sdk_sends_it(client):
    uploaded = client.files.create(
        file=("expiring.txt", b"soon gone"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 4545}
    )
    assert uploaded.expires_at == uploaded.created_at + 4545
    assert client.files.retrieve(uploaded.id).expires_at == uploaded.created_at + 4545


def test_expires_after_as_raw_bracket_fields_and_as_json(http):
    bracket = http.post(
        "/files",
        files={"file": ("a.txt", b"a")},
        data={"purpose": "assistants", "expires_after[anchor]": "created_at", "expires_after[seconds]": "4545"},
    ).json()
    assert bracket["expires_at"] == bracket["created_at"] + 4545
    as_json = http.post(
        "/files",
        files={"file": ("b.txt", b"b")},
        data={"purpose": "assistants", "expires_after": json.dumps({"anchor": "created_at", "seconds": 7200})},
    ).json()
    assert as_json["expires_at"] == as_json["created_at"] + 7200


@pytest.mark.parametrize("purpose", ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"])
def test_every_openai_purpose(client, purpose):
    assert client.files.create(file=("p.jsonl", b"{}\n"), purpose=purpose).purpose == purpose


def test_filename_is_reported_as_uploaded_and_sanitised_only_in_the_header(client, http):
    name = 'Résumé "final" (v2) ü.pdf'
    uploaded = client.files.create(file=(name, b"%PDF-1.4"), purpose="user_data")
    assert uploaded.filename == name
    assert client.files.retrieve(uploaded.id).filename == name
    response = http.get(f"/files/{uploaded.id}/content")
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == "8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=\"R_sum___final___v2___.pdf\"; filename*=UTF-8''")
    assert disposition.endswith("R%C3%A9sum%C3%A9%20%22final%22%20%28v2%29%20%C3%BC.pdf")


def test_list_pages_across_uploads_in_the_same_second(client, http):
    ids = [client.files.create(file=(f"page{i}.txt", b"x"), purpose="evals").id for i in range(7)]
    newest_first = client.files.list(purpose="evals", limit=3)
    assert [f.id for f in newest_first][:7] == ids[::-1]  # the SDK follows `after` through every page
    pages = list(client.files.list(purpose="evals", limit=3, order="asc").iter_pages())
    assert [f.id for p in pages for f in p.data][-7:] == ids
    assert all(p.has_more for p in pages[:-1])
    assert pages[-1].has_more is False
    raw = http.get("/files", params={"purpose": "evals", "limit": 2, "order": "asc", "after": ids[2]}).json()
    assert raw["object"] == "list"
    assert [f["id"] for f in raw["data"]] == ids[3:5]
    assert (raw["first_id"], raw["last_id"], raw["has_more"]) == (ids[3], ids[4], True)
    empty = http.get("/files", params={"purpose": "evals", "after": ids[-1], "order": "asc"}).json()
    assert (empty["data"], empty["has_more"], empty["first_id"], empty["last_id"]) == ([], False, None, None)


def test_download_streams_a_large_file_intact(client, http, tmp_path):
    data = os.urandom(3 * MiB + 17)
    uploaded = client.files.create(file=("big.bin", data), purpose="batch")
    with http.stream("GET", f"/files/{uploaded.id}/content") as response:
        chunks = [chunk for chunk in response.iter_raw()]
    assert response.status_code == 200
    assert b"".join(chunks) == data
    assert len(chunks) > 1


def test_a_file_whose_bytes_vanished_is_404_not_500(server, client):
    uploaded = client.files.create(file=("gone.txt", b"soon missing"), purpose="assistants")
    remove_stored(server, uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)
    assert client.files.delete(uploaded.id).deleted is True  # the row can still be cleaned up


# ------------------------------------------------------------------------------------------ expiry
def test_an_expired_file_is_gone_and_purge_removes_its_bytes(server, client):
    expiring = client.files.create(
        file=("temp.txt", b"temporary"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    lasting = client.files.create(file=("keep.txt", b"keep"), purpose="batch")
    assert stored_bytes(server, expiring.id) == b"temporary"

    age_file_sqlite(server, expiring.id, 3599)  # uploaded 59m59s ago: still there
    assert client.files.retrieve(expiring.id).id == expiring.id
    age_file_sqlite(server, expiring.id, 2)  # 1h01s ago: expired
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(expiring.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(expiring.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(expiring.id)
    listed = [f.id for f in client.files.list()]
    assert expiring.id not in listed
    assert lasting.id in listed
    assert stored_bytes(server, expiring.id) == b"temporary"  # hidden at once, removed by the purge

    output = server.manage("purge_expired_files")  # with the server's run config: its bucket, if it has one
    assert "deleted 1/1" in output
    assert "Deleted 1 expired file (9 bytes)" in output
    assert stored_bytes(server, expiring.id) is None
    assert client.files.content(lasting.id).content == b"keep"


# ------------------------------------------------------------------------------------------ bad input
def nothing_written(server, before: list[str], client, count_before: int) -> None:
    assert stored(server) == before
    assert len(list(client.files.list())) == count_before


ARABIC_3600 = "\u0663\u0666\u0660\u0660"  # 3600 in Arabic-Indic digits, which int() would take
BAD_UPLOADS = [
    ("missing file", {"data": {"purpose": "assistants"}, "files": {"other": (None, "x")}}, 400, "file"),
    ("file as a text field", {"files": {"file": (None, "text"), "purpose": (None, "batch")}}, 400, "file"),
    ("missing purpose", {"files": {"file": ("a.txt", b"abc")}}, 400, "purpose"),
    ("unknown purpose", {"files": {"file": ("a.txt", b"abc")}, "data": {"purpose": "bogus"}}, 400, "purpose"),
    (
        "seconds too small",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "3599"},
        },
        400,
        "expires_after.seconds",
    ),
    (
        "seconds too large",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"},
        },
        400,
        "expires_after.seconds",
    ),
    (
        "seconds not numeric",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": "1h"},
        },
        400,
        "expires_after.seconds",
    ),
    (
        "seconds in other digits than ASCII",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after[anchor]": "created_at", "expires_after[seconds]": ARABIC_3600},
        },
        400,
        "expires_after.seconds",
    ),
    (
        "json seconds in other digits than ASCII",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after": json.dumps({"anchor": "created_at", "seconds": ARABIC_3600})},
        },
        400,
        "expires_after.seconds",
    ),
    (
        "other anchor",
        {
            "files": {"file": ("a.txt", b"abc")},
            "data": {"purpose": "batch", "expires_after[anchor]": "last_active_at", "expires_after[seconds]": "3600"},
        },
        400,
        "expires_after.anchor",
    ),
    (
        "anchor without seconds",
        {"files": {"file": ("a.txt", b"abc")}, "data": {"purpose": "batch", "expires_after[anchor]": "created_at"}},
        400,
        "expires_after.seconds",
    ),
    (
        "json expires_after not json",
        {"files": {"file": ("a.txt", b"abc")}, "data": {"purpose": "batch", "expires_after": "{nope"}},
        400,
        "expires_after",
    ),
    ("empty file", {"files": {"file": ("a.txt", b"")}, "data": {"purpose": "batch"}}, 400, "file"),
    ("path in filename", {"files": {"file": ("../../etc/passwd", b"abc")}, "data": {"purpose": "batch"}}, 400, "file"),
    ("directory in filename", {"files": {"file": ("sub/x.txt", b"abc")}, "data": {"purpose": "batch"}}, 400, "file"),
    ("windows path", {"files": {"file": ("..\\..\\x.txt", b"abc")}, "data": {"purpose": "batch"}}, 400, "file"),
    (
        "255 four-byte characters in filename",
        {"files": {"file": ("\U0001f600" * 255, b"abc")}, "data": {"purpose": "batch"}},
        400,
        "file",
    ),
    (
        "two files",
        {"files": [("file", ("a.txt", b"a")), ("file", ("b.txt", b"b"))], "data": {"purpose": "batch"}},
        400,
        "file",
    ),
    ("not multipart", {"json": {"purpose": "batch"}}, 400, None),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status", "param"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_uploads_are_4xx_and_write_nothing(server, client, http, case, request_kwargs, status, param):
    before, count = stored(server), len(list(client.files.list()))
    error = error_of(http.post("/files", **request_kwargs), status)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    nothing_written(server, before, client, count)


def test_the_sdk_raises_its_own_error_classes(client):
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("a.txt", b"abc"), purpose="bogus")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("a.txt", b""), purpose="batch")
    with pytest.raises(openai.BadRequestError):
        client.files.create(
            file=("a.txt", b"abc"), purpose="batch", expires_after={"anchor": "created_at", "seconds": 60}
        )
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.retrieve("file-not-hex")
    assert raised.value.body["param"] == "file_id"
    with pytest.raises(openai.BadRequestError):
        client.files.content("file-..")
    with pytest.raises(openai.NotFoundError):  # slashes make it another (unknown) path: a JSON 404
        client.files.content("../../etc/passwd")
    with pytest.raises(openai.NotFoundError) as raised:
        client.files.retrieve("file-" + "0" * 32)
    assert "not found" in raised.value.body["message"]
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.list(after="file-" + "0" * 32)
    assert raised.value.body["param"] == "after"
    with pytest.raises(openai.BadRequestError):
        client.files.list(limit=0)


def test_oversized_upload_is_413_and_leaves_nothing(start_server):
    small = start_server("files:\n  max_upload_bytes: 65536\n")
    with openai.OpenAI(base_url=small.url + "/v1", api_key="test", max_retries=0) as sdk:
        with pytest.raises(openai.APIStatusError) as raised:
            sdk.files.create(file=("big.bin", b"x" * 65537), purpose="batch")
        assert raised.value.status_code == 413
        assert raised.value.body["code"] == "file_too_large"
        assert "65536 bytes" in raised.value.body["message"]
        # Far past the limit: refused from the declared length, before the body is parsed.
        with pytest.raises(openai.APIStatusError) as raised:
            sdk.files.create(file=("huge.bin", b"x" * (12 * MiB)), purpose="batch")
        assert raised.value.status_code == 413
        assert stored_files(storage_dir(small)) == []
        assert list(sdk.files.list()) == []
        assert sdk.files.create(file=("exact.bin", b"x" * 65536), purpose="batch").bytes == 65536


# ------------------------------------------------------------------------------------------ memory
def test_memory_stays_flat_for_a_120_mib_upload_and_download(server, client, tmp_path):
    size = 120 * MiB
    source = tmp_path / "large.bin"
    digest = hashlib.sha256()
    with source.open("wb") as fh:
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            fh.write(block)
            digest.update(block)
    client.files.create(file=("warm-up.txt", b"warm"), purpose="batch")  # first-request allocations
    with PeakRSS(server.process.pid) as upload_memory:
        with source.open("rb") as fh:
            uploaded = client.files.create(file=("large.bin", fh), purpose="batch")
    assert uploaded.bytes == size
    assert upload_memory.growth < 40 * MiB, f"server RSS grew {upload_memory.growth / MiB:.1f} MiB during upload"

    received = hashlib.sha256()
    with PeakRSS(server.process.pid) as download_memory:
        with client.files.with_streaming_response.content(uploaded.id) as response:
            for chunk in response.iter_bytes():
                received.update(chunk)
    assert received.hexdigest() == digest.hexdigest()
    assert download_memory.growth < 40 * MiB, f"server RSS grew {download_memory.growth / MiB:.1f} MiB on download"
    client.files.delete(uploaded.id)


def test_routes_are_documented(http):
    paths = http.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/files"]) == {"get", "post"}
    assert set(paths["/v1/files/{file_id}"]) == {"get", "delete"}
    assert set(paths["/v1/files/{file_id}/content"]) == {"get"}
    upload = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["file", "purpose"]
    assert {"expires_after[anchor]", "expires_after[seconds]", "expires_after"} <= set(upload["properties"])


def test_a_filename_too_long_for_a_form_part_says_so(http):
    error = error_of(http.post("/files", files={"file": ("\U0001f600" * 255, b"abc")}, data={"purpose": "batch"}), 400)
    assert error["code"] == "filename_too_long"
    assert "shorter filename" in error["message"]
