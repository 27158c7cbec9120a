"""Record and replay of the calls stackadmin makes to model servers, so tests need no model and still run over HTTP.

A server the tests start runs with `STACKADMIN_UPSTREAM_CLASS=tests.support.recording.EnvRecordingUpstream`
(the server's working directory is the repository root, so `tests` is importable there), and
`STACKADMIN_TEST_INFERENCE_MODE` selects the mode of that *server* process:

- `live` (or unset): no recorder, calls go to the model server.
- `record`: call the model server and (over)write the recording of every call.
- `replay`: answer every call from its recording; a call without one fails with an error naming the file it
  looked for (nothing is contacted, so no model server needs to run).
- `record-if-missing`: replay when a recording exists, otherwise call and record.

Recordings live in `STACKADMIN_TEST_RECORDING_DIR`, one readable JSON file per distinct request, named after the
endpoint and a SHA-256 of the normalised request (method, endpoint relative to the provider's base URL, body with
sorted keys and floats rounded to 5 decimals). The provider's URL and key are not part of the hash, so recordings
made against a fake server on a random port replay anywhere. Errors are recorded too (as the `apps.core.errors`
class the provider raised, with its message), and so is a stream that breaks midway: its chunks, then its error.

Upstream ids (`chatcmpl-…`) and timestamps are normalised in the file, and a replay hands out a fresh id each time,
like a real server: two tests sending the same request get two distinct stored completions.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from apps.core import errors
from apps.core.errors import StackAdminError, UpstreamError
from apps.inference.config import InferenceProvider
from apps.inference.upstream import OpenAIUpstream, Upstream

UPSTREAM_CLASS = "tests.support.recording.EnvRecordingUpstream"
MODE_ENV = "STACKADMIN_TEST_INFERENCE_MODE"
DIR_ENV = "STACKADMIN_TEST_RECORDING_DIR"
RECORDING_MODES = ("record", "replay", "record-if-missing")
MODES = ("live", *RECORDING_MODES)


class RecordingNotFoundError(UpstreamError):
    code = "recording_not_found"


def recorder_settings(environ: dict | os._Environ | None = None) -> tuple[str, Path | None]:
    """(mode, directory) from the environment; a bad value is an error rather than a silent live call."""
    environ = os.environ if environ is None else environ
    mode = (environ.get(MODE_ENV) or "live").strip().lower()
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r} is not a mode; use one of {', '.join(MODES)}")
    if mode == "live":
        return mode, None
    directory = environ.get(DIR_ENV)
    if not directory:
        raise ValueError(f"{MODE_ENV}={mode} needs {DIR_ENV}, the directory of the recordings")
    return mode, Path(directory).expanduser()


def _normalise(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def request_hash(method: str, endpoint: str, body: dict | None) -> str:
    canonical = json.dumps(
        {"method": method, "endpoint": endpoint, "body": _normalise(body or {})},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def recording_path(directory: Path, method: str, endpoint: str, body: dict | None) -> Path:
    slug = endpoint.strip("/").replace("/", "-") or "root"
    return directory / f"{slug}-{request_hash(method, endpoint, body)[:24]}.json"


def _error_record(exc: StackAdminError) -> dict:
    return {"class": type(exc).__name__, "message": exc.message, "param": exc.param, "code": exc.code}


def _error_from_record(record: dict) -> StackAdminError:
    cls = getattr(errors, record.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, StackAdminError)):
        cls = UpstreamError
    return cls(record.get("message") or "recorded error", param=record.get("param"), code=record.get("code"))


class _Ids:
    """Rewrites upstream ids and timestamps: to stable placeholders when writing, to fresh values when replaying."""

    def __init__(self, placeholder: str | None) -> None:
        self.placeholder = placeholder
        self.fresh = "chatcmpl-" + secrets.token_hex(12)
        self.now = int(time.time())

    def stored(self, obj: dict) -> dict:
        out = dict(obj)
        if "id" in out:
            out["id"] = self.placeholder
        if "created" in out:
            out["created"] = 0
        return out

    def replayed(self, obj: dict) -> dict:
        out = dict(obj)
        if "id" in out:
            out["id"] = self.fresh
        if "created" in out:
            out["created"] = self.now
        return out


def _as_is(value: Any) -> Any:
    return value


class Recorder:
    """What the recorders of model calls, web searches (search_recording.py) and MCP sessions (mcp_recording.py)
    share: the client they wrap, their mode and directory, and their files, read in the mode's way and written
    whole, so a test never replays half a recording."""

    how_to_record = ""  # what the error for a missing recording adds after "running the tests with <mode env>"
    failure: type[Exception] = Exception  # what the wrapped client raises for a failure that is recorded

    def _failure_record(self, exc: Exception) -> dict:
        raise NotImplementedError("subclasses of Recorder must provide a _failure_record() method")

    def _failure_from_record(self, record: dict) -> Exception:
        raise NotImplementedError("subclasses of Recorder must provide a _failure_from_record() method")

    def __init__(self, inner, *, mode: str, directory: Path) -> None:
        if mode not in RECORDING_MODES:
            raise ValueError(f"not a recording mode: {mode!r}")
        self.inner = inner
        self.mode = mode
        self.directory = directory

    def _load(self, path: Path, what: str) -> dict | None:
        """The recording at `path`; None when the call is to be made (and recorded); in `replay`, an error naming
        the file when there is none (nothing is contacted)."""
        if self.mode == "record":
            return None
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        if self.mode == "replay":
            raise RecordingNotFoundError(
                f"No recording for {what}: {path} does not exist. Record it by running the tests with "
                f"{MODE_ENV}=record-if-missing{self.how_to_record}."
            )
        return None

    def _write(self, path: Path, request: dict, response: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{secrets.token_hex(4)}.tmp")
        text = json.dumps({"request": request, "response": response}, indent=2, ensure_ascii=False) + "\n"
        # A lone surrogate (only ever inside a JSON string) is written as its JSON escape, `\udc80`.
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        tmp.replace(path)

    async def _answer(
        self,
        path: Path,
        request: dict,
        record: dict | None,
        call: Callable[[], Awaitable[Any]],
        *,
        extra: dict | None = None,
        stored: Callable[[Any], Any] = _as_is,
        replayed: Callable[[Any], Any] = _as_is,
    ) -> Any:
        """The recorded answer, or failure, when there is a `record` (see `_load`); otherwise `call()`'s, written to
        `path` (as `stored` gives it, after `extra`) whether it answered or failed."""
        if record is not None:
            response = record["response"]
            if "error" in response:
                raise self._failure_from_record(response["error"])
            return replayed(response["body"])
        try:
            result = await call()
        except self.failure as exc:
            self._write(path, request, {**(extra or {}), "error": self._failure_record(exc)})
            raise
        self._write(path, request, {**(extra or {}), "body": stored(result)})
        return result


class RecordingUpstream(Recorder):
    """Wraps an `Upstream` (see apps.inference.upstream) with one of the recording modes above."""

    how_to_record = " and a model server up"
    failure = StackAdminError

    def __init__(self, inner, *, mode: str, directory: Path) -> None:
        super().__init__(inner, mode=mode, directory=directory)
        self.provider_id = inner.provider_id

    async def aclose(self) -> None:
        await self.inner.aclose()

    def _what(self, method: str, endpoint: str) -> str:
        return f"{method} {endpoint} (provider '{self.provider_id}')"

    def _save(self, path: Path, method: str, endpoint: str, body: dict | None, response: dict) -> None:
        self._write(path, {"method": method, "endpoint": endpoint, "body": body}, response)

    def _failure_record(self, exc: Exception) -> dict:
        return _error_record(exc)

    def _failure_from_record(self, record: dict) -> Exception:
        return _error_from_record(record)

    # ------------------------------------------------------------------------------------------ calls
    def _chat_recording(self, body: dict) -> tuple[Path, _Ids, dict | None]:
        """Where a chat call's recording is, the ids it hands out, and the recording if there is one."""
        method, endpoint = "POST", "/chat/completions"
        path = recording_path(self.directory, method, endpoint, body)
        return path, _Ids("rec-" + path.stem.rsplit("-", 1)[-1][:12]), self._load(path, self._what(method, endpoint))

    async def chat(self, body: dict) -> dict:
        path, ids, record = self._chat_recording(body)
        request = {"method": "POST", "endpoint": "/chat/completions", "body": body}
        return await self._answer(
            path,
            request,
            record,
            lambda: self.inner.chat(body),
            extra={"is_streaming": False},
            stored=ids.stored,
            replayed=ids.replayed,
        )

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        method, endpoint = "POST", "/chat/completions"
        path, ids, record = self._chat_recording(body)
        if record is not None:
            response = record["response"]
            if "chunks" not in response:  # the stream failed to open
                raise _error_from_record(response["error"])
            return self._replay_stream(response, ids)
        try:
            chunks = await self.inner.chat_stream(body)
        except StackAdminError as exc:
            self._save(path, method, endpoint, body, {"is_streaming": True, "error": _error_record(exc)})
            raise
        return self._record_stream(chunks, path, method, endpoint, body, ids)

    async def _replay_stream(self, response: dict, ids: _Ids) -> AsyncIterator[dict]:
        for chunk in response["chunks"]:
            yield ids.replayed(chunk)
        if response.get("error"):
            raise _error_from_record(response["error"])

    async def _record_stream(self, chunks, path: Path, method: str, endpoint: str, body: dict, ids: _Ids):
        seen: list[dict] = []
        try:
            async for chunk in chunks:
                seen.append(ids.stored(chunk))
                yield chunk
        except StackAdminError as exc:
            self._save(
                path,
                method,
                endpoint,
                body,
                {"is_streaming": True, "chunks": seen, "error": _error_record(exc)},
            )
            raise
        # A stream the consumer abandoned (GeneratorExit) is not complete, so it is not saved.
        self._save(path, method, endpoint, body, {"is_streaming": True, "chunks": seen})

    async def list_models(self) -> list[dict]:
        method, endpoint = "GET", "/models"
        key = {"provider_id": self.provider_id}  # model lists differ between providers; the request has no body
        path = recording_path(self.directory, method, endpoint, key)
        record = self._load(path, self._what(method, endpoint))
        request = {"method": method, "endpoint": endpoint, "body": key}
        return await self._answer(path, request, record, self.inner.list_models)


class EnvRecordingUpstream:
    """What `UPSTREAM_CLASS` names: the real client for `provider`, behind a recorder in the mode and directory the
    environment gives (none in `live`), so that one setting serves every mode."""

    def __init__(self, provider: InferenceProvider) -> None:
        mode, directory = recorder_settings()
        client: Upstream = OpenAIUpstream(provider)
        if mode != "live":
            client = RecordingUpstream(client, mode=mode, directory=directory)
        self.client = client
        self.provider_id = provider.provider_id

    async def aclose(self) -> None:
        await self.client.aclose()

    async def chat(self, body: dict) -> dict:
        return await self.client.chat(body)

    async def chat_stream(self, body: dict) -> AsyncIterator[dict]:
        return await self.client.chat_stream(body)

    async def list_models(self) -> list[dict]:
        return await self.client.list_models()
