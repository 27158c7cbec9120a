"""The admin over files: size, expiry, purpose filter, a download link, and deletion that removes the bytes."""

from __future__ import annotations

import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

import pytest

from apps.files import disk, services
from apps.files.models import File
from tests.support.files import stored_files

pytestmark = pytest.mark.django_db


def upload(data: bytes = b"hello", *, expires_after: dict | None = None, **kwargs) -> File:
    kwargs.setdefault("filename", "notes.txt")
    kwargs.setdefault("purpose", "assistants")
    seconds = expires_after["seconds"] if expires_after else None
    return services.file_create(staged=disk.stage_stream(io.BytesIO(data)), expires_after_seconds=seconds, **kwargs)


def test_changelist_shows_size_expiry_and_filters_by_purpose(admin_client, storage):
    batch = upload(b"x" * 3000, filename="batch.jsonl", purpose="batch")
    upload(filename="vision.png", purpose="vision", expires_after={"anchor": "created_at", "seconds": 3600})
    url = reverse("admin:files_file_changelist")
    html = admin_client.get(url).content.decode()
    assert "batch.jsonl" in html
    assert "vision.png" in html
    assert "2.9 KiB" in html
    filtered = admin_client.get(url, {"purpose__exact": "batch"}).content.decode()
    assert "batch.jsonl" in filtered
    assert "vision.png" not in filtered
    assert reverse("admin:files_file_download", args=[batch.public_id]) in html
    never = admin_client.get(url, {"expiry": "never"}).content.decode()
    assert "batch.jsonl" in never
    assert "vision.png" not in never


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_download_link_serves_the_bytes(admin_client, storage):
    file = upload(b"\x00binary\xff", filename="data file.bin")
    response = admin_client.get(reverse("admin:files_file_download", args=[file.public_id]))
    assert response.status_code == 200
    assert b"".join(response) == b"\x00binary\xff"  # the test client reads the async stream whole
    assert response["Content-Disposition"] == "attachment; filename=\"data_file.bin\"; filename*=UTF-8''data%20file.bin"


def test_download_needs_the_admin(client, storage):
    file = upload()
    response = client.get(reverse("admin:files_file_download", args=[file.public_id]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_delete_removes_row_and_bytes_even_when_expired(admin_client, storage, django_capture_on_commit_callbacks):
    live = upload(b"live")
    expired = upload(b"old", expires_after={"anchor": "created_at", "seconds": 3600})
    File.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:files_file_delete", args=[expired.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert list(File.objects.values_list("pk", flat=True)) == [live.pk]
    assert stored_files(storage) == [live.path]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:files_file_changelist"),
            {"action": "delete_selected", "_selected_action": [live.pk], "post": "yes"},
        )
    assert not File.objects.exists()
    assert stored_files(storage) == []


def test_no_add_or_change(admin_client, storage):
    file = upload()
    assert admin_client.get(reverse("admin:files_file_add")).status_code == 403
    page = admin_client.get(reverse("admin:files_file_change", args=[file.pk])).content.decode()
    assert 'name="_save"' not in page


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_operators_can_download_an_expired_file_until_it_is_purged(admin_client, storage):
    file = upload(b"old bytes", expires_after={"anchor": "created_at", "seconds": 3600})
    File.objects.filter(pk=file.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = admin_client.get(reverse("admin:files_file_download", args=[file.public_id]))
    assert response.status_code == 200
    assert b"".join(response) == b"old bytes"
    (storage / file.path).unlink()
    assert admin_client.get(reverse("admin:files_file_download", args=[file.public_id])).status_code == 404
    assert admin_client.get(reverse("admin:files_file_download", args=["file-nope"])).status_code == 404
