"""Where file bytes live: `files.storage_dir` from the run config, read at call time.

Layout: `<storage_dir>/<2 hex>/<file id>` (the two characters after `file-` spread files over 256 directories).
The path comes from the generated id alone, so no filename or caller-supplied value can point it anywhere else,
and `resolve` re-checks that a stored relative path stays inside the directory before anything opens it.

Incoming bytes are staged in `<storage_dir>/.incoming/`, on the same filesystem as their final place, and become
a file with one `os.replace`: a reader sees all of a file or none of it. A crash mid-upload can only leave a
`.part` file in `.incoming`, which `purge_expired_files` sweeps.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from apps.core.errors import PayloadTooLargeError
from apps.files.config import files_config

INCOMING_DIR = ".incoming"
FILE_ID_RE = re.compile(r"^file-[0-9a-f]{32}$")
READ_CHUNK_BYTES = 1024 * 1024


def storage_root() -> Path:
    return _absolute_root(files_config().storage_dir)


@functools.lru_cache(maxsize=8)
def _absolute_root(configured: str) -> Path:
    # Resolving symlinks costs a system call per path component; the configured value rarely changes.
    return Path(configured).expanduser().resolve()


def max_upload_bytes() -> int:
    return files_config().max_upload_bytes


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"File is larger than the maximum upload size of {max_bytes} bytes ({human_size(max_bytes)}).",
        param="file",
        code="file_too_large",
    )


def relative_path(file_id: str) -> str:
    if not FILE_ID_RE.fullmatch(file_id):
        raise ValueError(f"not a file id: {file_id!r}")
    return f"{file_id[5:7]}/{file_id}"


def resolve(relative: str) -> Path:
    """The absolute path of a stored file, refusing anything that would leave the storage directory.

    The check is on the normalised path (as Django's `safe_join` does): `..` and absolute paths cannot escape.
    Symlinks inside the storage directory are the operator's business.
    """
    root = str(storage_root())
    path = os.path.normpath(os.path.join(root, relative))
    inside = os.path.dirname(path) != root and path.startswith(root + os.sep)
    if not inside or path.startswith(os.path.join(root, INCOMING_DIR) + os.sep):
        raise ValueError(f"stored path {relative!r} is outside the storage directory {root}")
    return Path(path)


def remove(relative: str) -> bool:
    """Delete a stored file's bytes; False when they were already gone."""
    try:
        resolve(relative).unlink()
    except FileNotFoundError:
        return False
    return True


class StagedFile:
    """Bytes being received into `.incoming/`, counted against a size limit; then committed (renamed) or discarded."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.committed = False
        incoming = storage_root() / INCOMING_DIR
        self.path = incoming / f"{secrets.token_hex(16)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            self._fd: int | None = os.open(self.path, flags, 0o600)
        except FileNotFoundError:  # first upload (or the directory was removed): create it, once
            incoming.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, flags, 0o600)

    def write(self, chunk: bytes) -> None:
        # Unbuffered: chunks arrive in 256 KiB pieces already, and a buffer would cost an allocation per upload.
        if self._fd is None:
            raise ValueError("write to a closed staged file")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def commit(self, relative: str) -> Path:
        """Move the bytes to their final place (one rename on the same filesystem)."""
        self.close()
        final = resolve(relative)
        try:
            os.replace(self.path, final)
        except FileNotFoundError:
            if not self.path.exists():
                raise
            final.parent.mkdir(exist_ok=True)  # the first file in this shard directory
            os.replace(self.path, final)
        self.committed = True
        return final

    def discard(self) -> None:
        """Remove the staged bytes unless they were committed; safe to call any number of times."""
        self.close()
        if not self.committed:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


def stage_stream(stream: BinaryIO, *, max_bytes: int | None = None, chunk_size: int = READ_CHUNK_BYTES) -> StagedFile:
    """Copy a readable binary stream into a staged file (for callers that are not an HTTP upload)."""
    staged = StagedFile(max_bytes=max_upload_bytes() if max_bytes is None else max_bytes)
    try:
        while chunk := stream.read(chunk_size):
            staged.write(chunk)
        staged.close()
    except BaseException:
        staged.discard()
        raise
    return staged


def sweep_incoming(*, older_than_seconds: float) -> list[Path]:
    """Delete staged files abandoned by a crashed upload; returns what was removed."""
    incoming = storage_root() / INCOMING_DIR
    if not incoming.is_dir():
        return []
    cutoff = time.time() - older_than_seconds
    removed = []
    for path in incoming.glob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


async def read_chunks(handle: BinaryIO, chunk_size: int = READ_CHUNK_BYTES) -> AsyncIterator[bytes]:
    """Stream an open file without blocking the event loop, closing it at the end (or when the client leaves).

    Responses need an async iterator: under ASGI, Django reads a sync one (a plain `FileResponse`) into memory
    whole before sending the first byte.
    """
    try:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk
    finally:
        handle.close()
