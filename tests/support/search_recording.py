"""Record and replay of web searches, as tests/support/recording.py does for model calls, so Responses tests with
the web search tool need no search provider.

A server the tests start runs with `STACKADMIN_WEB_SEARCH_CLASS=tests.support.search_recording.EnvRecordingWebSearch`
(`SEARCH_CLASS`); the modes and their environment are recording.py's: `STACKADMIN_TEST_INFERENCE_MODE` (`live`,
`record`, `replay`, `record-if-missing`) and `STACKADMIN_TEST_RECORDING_DIR`, so one directory holds a test's model
calls and its searches. In `replay` nothing is contacted; a search without a recording fails with
`RecordingNotFoundError` naming the file it looked for.

One readable JSON file per distinct search, named `web-search-<provider>-<sha256…>.json`: the hash is
recording.py's over the normalised request (`POST /web-search/<provider>` with `{"query", "max_results"}`). The
provider's URL and key are not part of it, so recordings made against the fake provider on a random port, with
its key, replay anywhere. A failed search is recorded too, as its `WebSearchError` code and message.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from apps.tools.web_search import HTTPWebSearch, SearchResults, WebSearchClient, WebSearchConfig, WebSearchError
from tests.support.recording import MODE_ENV, RecordingNotFoundError, recorder_settings, recording_path

SEARCH_CLASS = "tests.support.search_recording.EnvRecordingWebSearch"
METHOD = "POST"


def search_request(config: WebSearchConfig, query: str) -> tuple[str, dict]:
    """(endpoint, body) that name a search in its recording: what was asked of which provider."""
    return f"/web-search/{config.provider}", {"query": query, "max_results": config.max_results}


def search_recording_path(directory: Path, config: WebSearchConfig, query: str) -> Path:
    endpoint, body = search_request(config, query)
    return recording_path(directory, METHOD, endpoint, body)


def _write(path: Path, record: dict) -> None:
    """Whole or not at all (a temporary file renamed), as recording.py writes its files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}-{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


class RecordingWebSearch:
    """Wraps a web search client (see apps.tools.web_search) with one of the recording modes."""

    def __init__(self, inner: WebSearchClient, *, mode: str, directory: Path) -> None:
        if mode not in ("record", "replay", "record-if-missing"):
            raise ValueError(f"not a recording mode: {mode!r}")
        self.inner = inner
        self.config = inner.config
        self.mode = mode
        self.directory = directory

    def _load(self, path: Path, endpoint: str) -> dict | None:
        if self.mode == "record":
            return None
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        if self.mode == "replay":
            raise RecordingNotFoundError(
                f"No recording for {METHOD} {endpoint}: {path} does not exist. Record it by running the tests with "
                f"{MODE_ENV}=record-if-missing (the fake search provider runs then)."
            )
        return None

    async def search(self, query: str) -> SearchResults:
        endpoint, body = search_request(self.config, query)
        path = recording_path(self.directory, METHOD, endpoint, body)
        record = self._load(path, endpoint)
        if record is not None:
            response = record["response"]
            if "error" in response:
                raise WebSearchError(response["error"]["message"], code=response["error"]["code"])
            return SearchResults.from_dict(response["body"])
        request = {"method": METHOD, "endpoint": endpoint, "body": body}
        try:
            results = await self.inner.search(query)
        except WebSearchError as exc:
            _write(path, {"request": request, "response": {"error": {"message": exc.message, "code": exc.code}}})
            raise
        _write(path, {"request": request, "response": {"body": results.as_dict()}})
        return results


class EnvRecordingWebSearch:
    """What `SEARCH_CLASS` names: the real client for `config`, behind a recorder in the mode and directory the
    environment gives (none in `live`), so that one setting serves every mode."""

    def __init__(self, config: WebSearchConfig) -> None:
        mode, directory = recorder_settings()
        client: WebSearchClient = HTTPWebSearch(config)
        if mode != "live":
            client = RecordingWebSearch(client, mode=mode, directory=directory)
        self.client = client
        self.config = config

    async def search(self, query: str) -> SearchResults:
        return await self.client.search(query)
