"""Uploaded files: metadata in the SQL store `files`, bytes in `files.storage_dir` (see `apps.files.disk`)."""

from __future__ import annotations

from django.db import models

from apps.core.models import OwnedModel


class Purpose(models.TextChoices):
    """The purposes OpenAI accepts on upload."""

    ASSISTANTS = "assistants"
    BATCH = "batch"
    FINE_TUNE = "fine-tune"
    VISION = "vision"
    USER_DATA = "user_data"
    EVALS = "evals"


class File(OwnedModel):
    public_id = models.CharField("id", max_length=37, unique=True, editable=False)
    # As uploaded: reported back unchanged, sanitised only where it goes into a header.
    filename = models.CharField(max_length=255, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, editable=False)
    bytes = models.BigIntegerField(editable=False)
    created_at = models.DateTimeField(editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    # Relative to the storage directory, derived from the id only (never from the filename).
    path = models.CharField(max_length=255, editable=False)

    resource_type = "file"  # its name in the access policy: `<resource_type>::<public_id>`

    class Meta:
        db_table = "openai_files"
        verbose_name = "file"
        indexes = [models.Index(fields=["purpose", "id"], name="openai_files_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.filename})"
