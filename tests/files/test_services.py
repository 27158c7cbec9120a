"""File services, selectors and the disk layout in-process: real files in a temporary storage directory."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

import pytest

from apps.core.errors import BadRequestError, NotFoundError, PayloadTooLargeError
from apps.core.principal import Principal
from apps.core.validation import validated
from apps.files import disk, selectors, services
from apps.files.models import File
from apps.files.schemas import FileUpload, content_disposition, file_object
from tests.support.files import stored_files

pytestmark = pytest.mark.django_db


def upload(data: bytes = b"hello", *, filename="notes.txt", purpose="assistants", expires_after=None, **kwargs):
    """As `POST /v1/files` does: the fields through the upload's schema, then the service."""
    fields = validated(FileUpload, {"file": filename, "purpose": purpose, "expires_after": expires_after})
    return services.file_create(
        staged=disk.stage_stream(io.BytesIO(data)),
        filename=fields.filename,
        purpose=fields.purpose,
        expires_after_seconds=fields.expires_after.seconds if fields.expires_after else None,
        **kwargs,
    )


def test_create_stores_bytes_under_an_id_derived_path(storage):
    file = upload(b"hello world", filename="my report (final).txt")
    assert disk.FILE_ID_RE.match(file.public_id)
    assert file.path == f"{file.public_id[5:7]}/{file.public_id}"
    assert (storage / file.path).read_bytes() == b"hello world"
    assert stored_files(storage) == [file.path]
    body = file_object(file)
    assert body == {
        "id": file.public_id,
        "object": "file",
        "bytes": 11,
        "created_at": int(file.created_at.timestamp()),
        "expires_at": None,
        "filename": "my report (final).txt",
        "purpose": "assistants",
        "status": "processed",
        "status_details": None,
    }


def test_ownership_is_recorded(storage):
    assert (upload().owner_principal, upload().access_attributes) == ("", None)
    owned = upload(principal=Principal("bob", {"roles": ["admin"]}))
    owned.refresh_from_db()
    assert (owned.owner_principal, owned.access_attributes) == ("bob", {"roles": ["admin"]})


@pytest.mark.parametrize("purpose", ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"])
def test_every_openai_purpose_is_accepted(storage, purpose):
    assert upload(purpose=purpose).purpose == purpose


@pytest.mark.parametrize(
    ("kwargs", "param", "fragment"),
    [
        ({"purpose": None}, "purpose", "Missing required parameter"),
        ({"purpose": "assistants_output"}, "purpose", "expected one of"),
        ({"purpose": "FINE-TUNE"}, "purpose", "expected one of"),
        ({"data": b""}, "file", "empty"),
        ({"filename": "../../etc/passwd"}, "file", "contains a path"),
        ({"filename": "dir/name.txt"}, "file", "contains a path"),
        ({"filename": "c:\\temp\\x.txt"}, "file", "contains a path"),
        ({"filename": ".."}, "file", "contains a path"),
        ({"filename": "bell\x07.txt"}, "file", "control characters"),
        ({"filename": "line\nbreak.txt"}, "file", "control characters"),
        ({"filename": ""}, "file", "no filename"),
        ({"filename": "x" * 256}, "file", "at most 255"),
        ({"expires_after": {"anchor": "created_at", "seconds": 3599}}, "expires_after.seconds", "3600"),
        ({"expires_after": {"anchor": "created_at", "seconds": 2592001}}, "expires_after.seconds", "2592000"),
        ({"expires_after": {"anchor": "created_at", "seconds": "soon"}}, "expires_after.seconds", "whole number"),
        ({"expires_after": {"anchor": "created_at", "seconds": 3600.5}}, "expires_after.seconds", "whole number"),
        ({"expires_after": {"anchor": "created_at", "seconds": True}}, "expires_after.seconds", "whole number"),
        ({"expires_after": {"anchor": "created_at"}}, "expires_after.seconds", "Missing"),
        ({"expires_after": {"seconds": 3600}}, "expires_after.anchor", "Missing"),
        ({"expires_after": {"anchor": "last_active_at", "seconds": 3600}}, "expires_after.anchor", "created_at"),
        ({"expires_after": [3600]}, "expires_after", "expected an object"),
    ],
)
def test_bad_input_leaves_nothing_behind(storage, kwargs, param, fragment):
    data = kwargs.pop("data", b"some bytes")
    with pytest.raises(BadRequestError) as raised:
        upload(data, **kwargs)
    assert raised.value.param == param
    assert fragment in raised.value.message
    assert not File.objects.exists()
    assert stored_files(storage) == []


def test_expiry_seconds_may_arrive_as_form_strings(storage):
    file = upload(expires_after={"anchor": "created_at", "seconds": "4545"})
    assert int(file.expires_at.timestamp()) == int(file.created_at.timestamp()) + 4545


def test_size_limit_stops_staging_and_removes_the_partial_bytes(storage):
    with pytest.raises(PayloadTooLargeError) as raised:
        disk.stage_stream(io.BytesIO(b"x" * (1024 * 1024 + 1)), chunk_size=4096)
    assert raised.value.status_code == 413
    assert "1048576 bytes" in raised.value.message
    assert stored_files(storage) == []
    assert upload(b"x" * 1024 * 1024).bytes == 1024 * 1024  # exactly the limit is fine


def test_a_failed_rename_rolls_back_the_row_and_removes_the_staged_bytes(storage):
    # Every possible shard directory is a plain file: the bytes cannot be moved into place.
    storage.mkdir(parents=True)
    for n in range(256):
        (storage / f"{n:02x}").write_bytes(b"")
    before = set(stored_files(storage))
    with pytest.raises(OSError):
        upload(b"payload")
    assert not File.objects.exists()
    assert set(stored_files(storage)) == before


def test_create_refuses_to_run_inside_an_outer_transaction(storage):
    """The rename must be followed by this service's own commit; an outer rollback would orphan the bytes."""
    with pytest.raises(RuntimeError), transaction.atomic():
        upload(b"payload")
    assert not File.objects.exists()
    assert stored_files(storage) == []


def test_paths_cannot_leave_the_storage_directory(storage):
    storage.mkdir(parents=True)
    for relative in ("../outside", "/etc/passwd", "ab/../../x", ".incoming/abc.part", ".", ""):
        with pytest.raises(ValueError):
            disk.resolve(relative)
    for file_id in ("../../etc", "file-../../x", "file-" + "g" * 32, "file-" + "a" * 31, "file-" + "a" * 32 + "\n"):
        with pytest.raises(ValueError):
            disk.relative_path(file_id)


def test_get_list_and_ids(storage):
    file = upload()
    assert selectors.file_get(file_id=file.public_id).pk == file.pk
    for bad in ("file-xyz", file.public_id + "\n", file.public_id.upper()):
        with pytest.raises(BadRequestError):
            selectors.file_get(file_id=bad)
    with pytest.raises(NotFoundError) as raised:
        selectors.file_get(file_id="file-" + "0" * 32)
    assert "not found" in raised.value.message


def test_list_pages_in_upload_order_even_within_one_second(storage):
    ids = [upload(purpose="batch" if i % 2 else "assistants").public_id for i in range(7)]
    seen, after = [], None
    while True:
        page = selectors.file_list(after=after, limit=3, order="asc")
        seen += [f.public_id for f in page.data]
        if not page.has_more:
            break
        after = page.last_id
    assert seen == ids
    newest = selectors.file_list(limit=2)
    assert [f.public_id for f in newest.data] == ids[::-1][:2]
    assert newest.has_more
    assert [f.public_id for f in selectors.file_list(purpose="batch", order="asc").data] == ids[1::2]
    empty = selectors.file_list(purpose="vision")
    assert (empty.data, empty.has_more, empty.first_id, empty.last_id) == ([], False, None, None)
    with pytest.raises(BadRequestError) as raised:
        selectors.file_list(after="file-" + "0" * 32)
    assert raised.value.param == "after"
    for bad in ({"limit": 0}, {"limit": 10001}, {"order": "newest"}):
        with pytest.raises(BadRequestError):
            selectors.file_list(**bad)


def test_list_is_one_query(storage, django_assert_num_queries):
    for _ in range(5):
        upload()
    with django_assert_num_queries(1):
        assert len(selectors.file_list().data) == 5
    cursor = selectors.file_list(limit=1).first_id
    with django_assert_num_queries(1):  # the cursor's position is a subquery of the page
        assert len(selectors.file_list(after=cursor).data) == 4


def test_expiry_hides_a_file_at_once(storage):
    file = upload(expires_after={"anchor": "created_at", "seconds": 3600})
    assert file.expires_at == file.created_at + timedelta(seconds=3600)
    just_before = file.created_at + timedelta(seconds=3599)
    just_after = file.created_at + timedelta(seconds=3600)
    assert selectors.file_get(file_id=file.public_id, now=just_before).pk == file.pk
    assert [f.pk for f in selectors.file_list(now=just_before).data] == [file.pk]
    with pytest.raises(NotFoundError):
        selectors.file_get(file_id=file.public_id, now=just_after)
    assert selectors.file_list(now=just_after).data == []
    with pytest.raises(NotFoundError):
        services.file_delete(file_id=file.public_id, now=just_after)
    assert (storage / file.path).exists()  # hidden, not yet purged


def test_an_expired_cursor_still_pages(storage):
    first = upload(expires_after={"anchor": "created_at", "seconds": 3600})
    second = upload()
    later = first.created_at + timedelta(hours=2)
    assert [f.pk for f in selectors.file_list(after=first.public_id, order="asc", now=later).data] == [second.pk]


def test_delete_removes_row_then_bytes_after_commit(storage, django_capture_on_commit_callbacks):
    file = upload(b"bytes")
    with django_capture_on_commit_callbacks(execute=True):
        services.file_delete(file_id=file.public_id)
    assert not File.objects.exists()
    assert stored_files(storage) == []
    with pytest.raises(NotFoundError):
        services.file_delete(file_id=file.public_id)


def test_purge_deletes_expired_rows_and_bytes_only(storage):
    keep = upload(b"forever")
    later = upload(b"later", expires_after={"anchor": "created_at", "seconds": 7200})
    doomed = [upload(b"x" * 10, expires_after={"anchor": "created_at", "seconds": 3600}) for _ in range(5)]
    progress = []
    result = services.files_purge_expired(
        now=timezone.now() + timedelta(seconds=3601), batch_size=2, progress=lambda *a: progress.append(a)
    )
    assert (result.files, result.bytes) == (5, 50)
    assert progress == [(2, 5, 20), (4, 5, 40), (5, 5, 50)]
    assert set(File.objects.values_list("pk", flat=True)) == {keep.pk, later.pk}
    assert stored_files(storage) == sorted([keep.path, later.path])
    assert all(not (storage / f.path).exists() for f in doomed)


def test_purge_command_reports_progress_and_sweeps_abandoned_uploads(storage):
    expired = [upload(b"old") for _ in range(3)]
    fresh = upload(b"new", expires_after={"anchor": "created_at", "seconds": 3600})
    File.objects.filter(pk__in=[f.pk for f in expired]).update(expires_at=timezone.now() - timedelta(seconds=1))
    incoming = storage / ".incoming"
    two_days_ago = time.time() - 2 * 86400
    # A part of this machine's that no process holds: its writer died (as a killed worker's); gone at once.
    dead = incoming / f"{disk.host_tag()}-{'a' * 32}.part"
    dead.write_bytes(b"partial")
    # Parts another machine sharing the directory writes (or an older version's, or a previous boot's): their
    # writers cannot be asked, so their age decides.
    foreign_old, foreign_new = incoming / f"elsewhere-{'b' * 32}.part", incoming / f"{'c' * 32}.part"
    foreign_old.write_bytes(b"partial")
    os.utime(foreign_old, (two_days_ago, two_days_ago))
    foreign_new.write_bytes(b"partial")
    in_flight = disk.StagedFile(max_bytes=10)  # an upload still being received, however old: left alone
    in_flight.write(b"part")
    os.utime(in_flight.path, (two_days_ago, two_days_ago))
    out = io.StringIO()
    call_command("purge_expired_files", "--dry-run", stdout=out)
    assert "3 expired files" in out.getvalue()
    assert out.getvalue().count("would delete") == 3
    assert File.objects.count() == 4
    out = io.StringIO()
    call_command("purge_expired_files", "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "deleted 2/3" in text
    assert "deleted 3/3" in text
    assert "Deleted 3 expired files (9 bytes) and 2 abandoned uploads." in text
    assert list(File.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not dead.exists()
    assert not foreign_old.exists()
    assert foreign_new.exists()
    assert in_flight.path.exists()
    in_flight.close()  # done writing, not yet renamed into place (its row is being inserted): still held
    assert disk.sweep_incoming(older_than_seconds=0) == [foreign_new]
    assert in_flight.path.exists()
    in_flight.discard()
    assert stored_files(storage) == [fresh.path]


def test_content_disposition_is_ascii_with_the_exact_name_alongside():
    assert content_disposition("my file.txt") == "attachment; filename=\"my_file.txt\"; filename*=UTF-8''my%20file.txt"
    assert content_disposition('a"b;c.pdf').startswith('attachment; filename="a_b_c.pdf"; ')
    assert content_disposition(".env").startswith('attachment; filename="_env"')
    assert content_disposition("résumé.pdf") == (
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    assert content_disposition("a..b").startswith('attachment; filename="a_b"')
