"""The run config's `files` section: where uploaded bytes live and how large an upload may be.

```yaml
files:
  storage_dir: ~/.stackadmin/files     # local bytes, or (with an s3 storage) where uploads are staged first
  max_upload_bytes: 536870912
  storage:                             # left out: {type: local}, the bytes live under storage_dir
    type: s3
    bucket: stackadmin-files
    prefix: files                      # keys are <prefix>/<2 hex>/<file id>
    endpoint_url: ${env.S3_ENDPOINT_URL:=}   # left out: AWS itself
    region: ${env.AWS_REGION:=}
    access_key_id: ${env.AWS_ACCESS_KEY_ID:=}         # left out: boto3's own environment and profiles
    secret_access_key: ${env.AWS_SECRET_ACCESS_KEY:=}
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from django.conf import settings

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from apps.core.config import ConfigError, check_fields, validation_message

STORAGE_TYPES = ("local", "s3")


class LocalStorage(BaseModel):
    """Bytes in `files.storage_dir` on this machine's disk."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["local"] = "local"


class S3Storage(BaseModel):
    """Bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, moto, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["s3"]
    bucket: Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")]
    prefix: Annotated[str, Field(max_length=512, pattern=r"^[A-Za-z0-9!_.*'()\-/]*$")] = ""
    endpoint_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/.*)?$")] | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> S3Storage:
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValueError(
                "access_key_id and secret_access_key go together: set both, or neither to use boto3's own "
                "environment and profiles"
            )
        return self

    @property
    def key_prefix(self) -> str:
        """The prefix as a key starts with it: no leading or doubled slashes, one trailing slash (or nothing)."""
        cleaned = "/".join(part for part in self.prefix.split("/") if part)
        return f"{cleaned}/" if cleaned else ""


FileStorage = Annotated[LocalStorage | S3Storage, Field(discriminator="type")]
_STORAGE_ADAPTER: TypeAdapter = TypeAdapter(FileStorage)


@dataclass(frozen=True)
class FilesConfig:
    storage_dir: str
    max_upload_bytes: int = 512 * 1024 * 1024
    storage: LocalStorage | S3Storage = field(default_factory=LocalStorage)


def files_config() -> FilesConfig:
    """The files section of the run config this process (or the running test) uses."""
    return settings.STACKADMIN_RUN_CONFIG.files


def parse_files(raw: Any, *, home: str) -> FilesConfig:
    """`files: {storage_dir, max_upload_bytes, storage}`; the directory defaults to `files/` under the home."""
    raw = raw or {}
    check_fields(raw, "files", ("storage_dir", "max_upload_bytes", "storage"))
    max_upload = raw.get("max_upload_bytes", FilesConfig.max_upload_bytes)
    if not isinstance(max_upload, int) or isinstance(max_upload, bool) or max_upload < 1:
        raise ConfigError(f"files.max_upload_bytes: must be a positive integer (got {max_upload!r})")
    storage_dir = raw.get("storage_dir") or os.path.join(home, "files")
    if not isinstance(storage_dir, str):
        raise ConfigError(f"files.storage_dir: must be a path (got {storage_dir!r})")
    return FilesConfig(
        storage_dir=os.path.expanduser(storage_dir),
        max_upload_bytes=max_upload,
        storage=parse_file_storage(raw.get("storage")),
    )


def parse_file_storage(raw: Any) -> LocalStorage | S3Storage:
    path = "files.storage"
    if raw is None:
        return LocalStorage()
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping with a 'type' ({', '.join(STORAGE_TYPES)})")
    try:
        return _STORAGE_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            got = raw.get("type")
            shown = f" (got {got!r})" if got is not None else ""
            raise ConfigError(f"{path}.type: must be one of {', '.join(STORAGE_TYPES)}{shown}") from None
        if err["type"] == "value_error":
            raise ConfigError(f"{path}: {err['msg'].removeprefix('Value error, ')}") from None
        raise ConfigError(validation_message(path, exc, hidden=STORAGE_TYPES)) from None
