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

from pathlib import Path

from apps.tools.web_search import HTTPWebSearch, SearchResults, WebSearchClient, WebSearchConfig, WebSearchError
from tests.support.recording import Recorder, recorder_settings, recording_path

SEARCH_CLASS = "tests.support.search_recording.EnvRecordingWebSearch"
METHOD = "POST"


def search_request(config: WebSearchConfig, query: str) -> tuple[str, dict]:
    """(endpoint, body) that name a search in its recording: what was asked of which provider."""
    return f"/web-search/{config.provider}", {"query": query, "max_results": config.max_results}


def search_recording_path(directory: Path, config: WebSearchConfig, query: str) -> Path:
    endpoint, body = search_request(config, query)
    return recording_path(directory, METHOD, endpoint, body)


class RecordingWebSearch(Recorder):
    """Wraps a web search client (see apps.tools.web_search) with one of the recording modes."""

    how_to_record = " (the fake search provider runs then)"
    failure = WebSearchError

    def __init__(self, inner: WebSearchClient, *, mode: str, directory: Path) -> None:
        super().__init__(inner, mode=mode, directory=directory)
        self.config = inner.config

    def _failure_record(self, exc: Exception) -> dict:
        return {"message": exc.message, "code": exc.code}

    def _failure_from_record(self, record: dict) -> Exception:
        return WebSearchError(record["message"], code=record["code"])

    async def search(self, query: str) -> SearchResults:
        endpoint, body = search_request(self.config, query)
        path = recording_path(self.directory, METHOD, endpoint, body)
        record = self._load(path, f"{METHOD} {endpoint}")
        request = {"method": METHOD, "endpoint": endpoint, "body": body}
        return await self._answer(
            path,
            request,
            record,
            lambda: self.inner.search(query),
            stored=SearchResults.as_dict,
            replayed=SearchResults.from_dict,
        )


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
