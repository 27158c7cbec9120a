"""Where file bytes live: `files.storage_dir` from the run config, read at call time.

Layout: `<storage_dir>/<2 hex>/<file id>` (the two characters after `file-` spread files over 256 directories).
The path comes from the generated id alone, so no filename or caller-supplied value can point it anywhere else,
and `resolve` re-checks that a stored relative path stays inside the directory before anything opens it.

Incoming bytes are staged in `<storage_dir>/.incoming/`, on the same filesystem as their final place, and become
a file with one `os.replace`: a reader sees all of a file or none of it. A crash mid-upload can only leave a
`.part` file in `.incoming`, which `sweep_incoming` removes (at every worker's start and in `purge_expired_files`).

Whether a part's writer is alive is known, not guessed from its age: the writer holds an exclusive `flock` on the
part from creating it until it is renamed into place or removed, and the kernel drops that lock when the process
dies, however it dies (SIGKILL included). A sweep removes a part only once it holds that lock itself. Locks are
only certain between processes of one kernel (on some network filesystems they are local to each machine), so a
part is named after the kernel that writes it (`<host>-<random>.part`, the host being Linux's boot id, elsewhere
the host name) and a sweep judges by the lock only its own kernel's parts; another machine's parts sharing the
directory, and those of a previous boot, go once they are older than the sweep's age limit.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import re
import secrets
import socket
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


@functools.cache
def host_tag() -> str:
    """The name of the kernel this process runs on, as staged parts carry it: the same for every process and
    container of one boot (which share its locks), different on another machine."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    except OSError:
        return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "localhost"


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


def _create_locked_part(incoming: Path) -> tuple[Path, int]:
    """A new, empty part in `incoming`, open for writing and locked by this process."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        path = incoming / f"{host_tag()}-{secrets.token_hex(16)}.part"
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:  # first upload (or the directory was removed): create it, once
            incoming.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o600)
        # Blocks only while a sweep that found the part in the instant before this lock removes it; then the part
        # has no name any more, and a new one is made.
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            return path, fd
        os.close(fd)


class StagedFile:
    """Bytes being received into `.incoming/`, counted against a size limit; then committed (renamed) or discarded.

    The part stays open, and locked (see the module docstring), from creation until `commit` or `discard`, also
    after `close` has ended the writing: a sweep must not take it while its row is being inserted."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.committed = False
        self.closed = False
        self.path, self._fd = _create_locked_part(storage_root() / INCOMING_DIR)

    def write(self, chunk: bytes) -> None:
        # Unbuffered: chunks arrive in 256 KiB pieces already, and a buffer would cost an allocation per upload.
        if self.closed:
            raise ValueError("write to a closed staged file")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        """No more bytes: later writes fail. The part keeps its lock until committed or discarded."""
        self.closed = True

    def _release(self) -> None:
        self.closed = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # drops the lock

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
        self._release()
        return final

    def discard(self) -> None:
        """Remove the staged bytes unless they were committed; safe to call any number of times."""
        if not self.committed and self._fd is not None:
            self.path.unlink(missing_ok=True)  # before the lock goes, so no sweep meets a part without a writer
        self._release()

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


def _remove_if_writer_gone(path: Path) -> bool:
    """Remove a part of this kernel's whose writer has let go of it (died, or just finished with it)."""
    try:
        # Open for writing (nothing is written): on NFS, flock is a whole-file write lock, which needs that.
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live process is writing it
        # Under the lock, the name (if still there) is a dead writer's: a writer that finished renamed or removed
        # the part before letting go of it. Or it was created an instant ago and its writer has not locked it
        # yet: that writer then finds it unlinked and makes another (`_create_locked_part`).
        path.unlink()
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)
    return True


def _remove_if_older(path: Path, cutoff: float) -> bool:
    try:
        if path.stat().st_mtime >= cutoff:
            return False
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def sweep_incoming(*, older_than_seconds: float | None = None) -> list[Path]:
    """Delete staged files abandoned by an upload that never finished; returns what was removed.

    A part this kernel's processes wrote goes as soon as its writer is gone, whatever its age, and never while
    its writer lives. Any other part (another machine's, a previous boot's) goes once it is older than
    `older_than_seconds`; with None, it stays."""
    incoming = storage_root() / INCOMING_DIR
    if not incoming.is_dir():
        return []
    cutoff = None if older_than_seconds is None else time.time() - older_than_seconds
    local = host_tag()
    removed = []
    for path in incoming.glob("*.part"):
        if path.stem.rpartition("-")[0] == local:
            gone = _remove_if_writer_gone(path)
        else:
            gone = cutoff is not None and _remove_if_older(path, cutoff)
        if gone:
            removed.append(path)
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
