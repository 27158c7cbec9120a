"""Prompt archives: stackadmin's export format, OpenAI prompt objects, and the checks every imported version meets.

stackadmin's format (README, "Export and import"):
    {"format": "stackadmin.prompts", "prompts": [<prompt>, ...], "version": 1}
    <prompt> = {"access_attributes", "default", "labels": {label: version}, "owner_principal", "prompt_id",
                "versions": [{"created_at", "created_by", "deleted", "message", "messages", "prompt", "settings",
                              "variables", "version"}, ...]}
Keys are written sorted with a fixed indentation, so two exports of the same store are byte-identical and a diff
of two exports shows only what changed.

An archive is checked whole before anything is written: the same template, message and model-setting rules as
`/v1` (apps.prompts.templating, apps.prompts.schemas.PromptMessages, apps.core.model_settings), versions numbered
1..N without gaps, the default and labels pointing at versions that are not deleted. A problem names the file, the
prompt and the version.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from apps.core.errors import StackAdminError
from apps.core.model_settings import SETTING_NAMES, settings_given
from apps.prompts import sources
from apps.prompts.keys import LABEL_RE, PROMPT_ID_RE
from apps.prompts.records import HISTORY_ACTIONS, HistoryEntry, PromptVersion
from apps.prompts.schemas import PromptMessages
from apps.prompts.templating import messages_text, validate_messages, validate_template

FORMAT = "stackadmin.prompts"
FORMAT_VERSION = 1
SOURCES = sources.SOURCES
MAX_MESSAGE_CHARS = 1_000
MAX_HISTORY_NAME_CHARS = 200
HISTORY_ID_PATTERN = r"^phe_[0-9]{20}[0-9a-f]{8}$"
ARCHIVE_SUFFIXES = (".json", ".yaml", ".yml", ".db", ".sqlite", ".sqlite3")
_MESSAGES = TypeAdapter(PromptMessages)


class TransferError(Exception):
    """An archive that cannot be imported (or an export that cannot be written): the message names where."""


class ArchiveVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    prompt: str | None = None
    messages: list[Any] | None = None
    variables: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    created_at: float | None = None
    created_by: str | None = None
    message: str | None = None
    deleted: bool = False


class ArchiveHistory(BaseModel):
    """One history entry as exported (apps.prompts.records.HistoryEntry without the prompt and owner it belongs to)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=HISTORY_ID_PATTERN)
    action: Literal[HISTORY_ACTIONS]  # type: ignore[valid-type]
    created_at: float
    actor: str | None = Field(None, max_length=MAX_HISTORY_NAME_CHARS)
    via: str | None = Field(None, max_length=MAX_HISTORY_NAME_CHARS)
    version: int | None = Field(None, ge=1)
    from_version: int | None = Field(None, ge=1)
    label: str | None = Field(None, pattern=LABEL_RE.pattern)
    message: str | None = Field(None, max_length=MAX_MESSAGE_CHARS)

    @property
    def stamp(self) -> str:
        """The entry's key stamp (apps.prompts.keys.new_history_stamp), from its id."""
        return f"{self.id[4:24]}-{self.id[24:]}"


class ArchivePrompt(BaseModel):
    """One prompt as an archive holds it, after `check_prompt`: content in the stored form."""

    model_config = ConfigDict(extra="forbid")

    prompt_id: str
    default: int = Field(ge=1)
    labels: dict[str, int] = Field(default_factory=dict)
    owner_principal: str = ""
    access_attributes: dict[str, list[str]] | None = None
    versions: list[ArchiveVersion] = Field(min_length=1)
    history: list[ArchiveHistory] = Field(default_factory=list)
    # Where a foreign source's prompt came from ("Langfuse prompt 'support/agent'") and what of it was left behind;
    # neither is stored nor exported.
    origin: str = Field("", exclude=True)
    notes: list[str] = Field(default_factory=list, exclude=True)


# ------------------------------------------------------------------------------------------ export
def prompt_document(
    *,
    prompt_id: str,
    default: int,
    labels: Mapping[str, int],
    versions: Iterable[PromptVersion],
    history: Iterable[HistoryEntry] = (),
):
    """One stored prompt (every version, deleted ones as such, and its history, oldest first) as its archive
    entry."""
    versions = list(versions)
    first = versions[0]
    return {
        "prompt_id": prompt_id,
        "default": default,
        "labels": dict(sorted(labels.items())),
        "owner_principal": first.owner_principal,
        "access_attributes": first.access_attributes,
        "versions": [_version_document(v) for v in versions],
        "history": [_history_document(e) for e in history],
    }


def _history_document(entry: HistoryEntry) -> dict:
    return {name: value for name, value in entry.as_api().items() if name not in ("object", "prompt_id")} | {
        "created_at": entry.created_at
    }


def _version_document(v: PromptVersion) -> dict:
    if v.deleted:
        return {"version": v.version, "created_at": v.created_at, "created_by": v.created_by, "deleted": True}
    return {
        "version": v.version,
        "prompt": None if v.is_chat else v.prompt,  # a chat template's text is derived from its messages
        "messages": v.messages,
        "variables": list(v.variables),
        "settings": dict(v.settings),
        "created_at": v.created_at,
        "created_by": v.created_by,
        "message": v.message,
        "deleted": False,
    }


def write_document(out: IO[str], documents: Iterable[dict], fmt: str) -> int:
    """Write one archive of `documents` to `out`, one prompt at a time (nothing but the current prompt is held).
    Returns how many prompts were written."""
    count = 0

    def counted() -> Iterator[dict]:
        nonlocal count
        for document in documents:
            count += 1
            yield document

    for piece in document_pieces(counted(), fmt):
        out.write(piece)
    return count


def document_pieces(documents: Iterable[dict], fmt: str) -> Iterator[str]:
    """The text of one archive of `documents`, piece by piece, each prompt read only when the text before it has
    been taken: what a streamed download sends (and `write_document` writes)."""
    count = 0
    if fmt == "yaml":
        yield f"format: {FORMAT}\nversion: {FORMAT_VERSION}\n"
        for document in documents:
            yield ("prompts:\n" if count == 0 else "") + yaml.safe_dump(
                [document], sort_keys=True, allow_unicode=True, default_flow_style=False
            )
            count += 1
        yield "prompts: []\n" if count == 0 else ""
        return
    yield f'{{\n  "format": "{FORMAT}",\n  "prompts": ['
    for document in documents:
        body = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
        yield ("\n" if count == 0 else ",\n") + textwrap.indent(body, "    ")
        count += 1
    closing = "\n  ]" if count else "]"
    yield f'{closing},\n  "version": {FORMAT_VERSION}\n}}\n'


# ------------------------------------------------------------------------------------------ reading
def archive_files(paths: Iterable[str | Path]) -> list[Path | str]:
    """The sources to import: each file; a directory's .json/.yaml/.yml/.db/.sqlite files in name order; a
    PostgreSQL URL as given."""
    files: list[Path | str] = []
    for given in paths:
        if isinstance(given, str) and sources.is_postgres_url(given):
            files.append(given)
            continue
        path = Path(given)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in ARCHIVE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise TransferError(f"{path}: no such file or directory")
    return files


def source_label(path: Path | str) -> str:
    """How an imported version's history names its source: the file's name, or the URL without its password."""
    return path.name if isinstance(path, Path) else shown(path)


def import_source(path: Path | str, prompt: ArchivePrompt) -> str:
    """What an imported version's history says it came from: the source, and the foreign prompt when there is one
    ("langfuse.json (Langfuse prompt 'support/agent')")."""
    label = source_label(path)
    return f"{label} ({prompt.origin})" if prompt.origin else label


def load_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TransferError(f"{path}: cannot read: {exc}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TransferError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TransferError(f"{path}: not valid JSON: {exc}") from None


def detect(content: Any) -> str | None:
    """The format of parsed JSON/YAML content: `stackadmin`, or a foreign one (apps.prompts.sources), else None."""
    if isinstance(content, dict) and "format" in content:
        return "stackadmin" if content.get("format") == FORMAT else None
    return sources.detect(content)


def raw_prompts(path: Path, content: Any, source: str | None = None) -> list[dict]:
    """The archive entries of one file's parsed content (foreign formats converted), not yet checked."""
    kind = source or detect(content)
    if kind is None:
        raise TransferError(
            f'{path}: unknown format: expected a stackadmin export ({{"format": "{FORMAT}", ...}}), OpenAI prompt '
            'objects ({"id": "pmpt_...", "version": ...}, or a list of them), a Langfuse prompt export (a list of '
            '{"name", "prompt", "version", ...}), or a llama-stack/OGX SQLite file'
        )
    try:
        if kind == "openai":
            return sources.openai_prompts(content)
        if kind == "langfuse":
            return sources.langfuse_prompts(content)
    except sources.SourceError as exc:
        raise TransferError(f"{path}: {exc}") from None
    if kind in sources.STORE_SOURCES:
        raise TransferError(f"{path}: a {kind} source is a database (SQLite file or PostgreSQL URL), not JSON/YAML")
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise TransferError(f'{path}: not a stackadmin export (no "format": "{FORMAT}")')
    if content.get("version") != FORMAT_VERSION:
        raise TransferError(f"{path}: unsupported {FORMAT} version {content.get('version')!r} (this reads 1)")
    prompts = content.get("prompts")
    if not isinstance(prompts, list):
        raise TransferError(f"{path}: 'prompts' must be a list")
    return prompts


def source_entries(path: Path | str, source: str | None = None) -> list[dict]:
    """The archive entries of one source: a file (JSON/YAML, or a llama-stack/OGX SQLite database) or a
    PostgreSQL URL (llama-stack's KV table and/or OGX's prompts table)."""
    try:
        if isinstance(path, str) and sources.is_postgres_url(path):
            return sources.postgres_prompts(path, _store_kind(path, source))
        if sources.is_sqlite(Path(path)):
            return sources.sqlite_prompts(Path(path), _store_kind(path, source))
    except sources.SourceError as exc:
        raise TransferError(f"{shown(path)}: {exc}") from None
    return raw_prompts(Path(path), load_file(Path(path)), source)


def _store_kind(path: Path | str, source: str | None) -> str | None:
    if source not in (None, *sources.STORE_SOURCES):
        raise TransferError(f"{shown(path)}: a database; --from {source} reads JSON/YAML (use llama-stack or ogx)")
    return source


def shown(path: Path | str) -> str:
    """A source as errors name it: a PostgreSQL URL without its password."""
    text = str(path)
    if isinstance(path, str) and sources.is_postgres_url(text):
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        if parts.password:
            return text.replace(f":{parts.password}@", ":***@", 1)
    return text


# ------------------------------------------------------------------------------------------ checks
def _where(path: Path, entry: Any) -> str:
    prompt_id = entry.get("prompt_id") if isinstance(entry, dict) else None
    origin = entry.get("origin") if isinstance(entry, dict) else None
    where = f"{shown(path)}: prompt {prompt_id}" if prompt_id else f"{shown(path)}: a prompt without 'prompt_id'"
    return f"{where} ({origin})" if origin and isinstance(origin, str) else where


def _pydantic_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    at = ".".join(str(p) for p in error["loc"])
    return f"{at}: {error['msg']}" if at else error["msg"]


def check_prompt(path: Path | str, entry: Any) -> ArchivePrompt:
    """`entry` as an ArchivePrompt whose every version meets the rules of `/v1`, or a TransferError naming where."""
    where = _where(path, entry)
    try:
        prompt = ArchivePrompt.model_validate(entry)
    except ValidationError as exc:
        raise TransferError(f"{where}: {_pydantic_problem(exc)}") from None
    if not PROMPT_ID_RE.match(prompt.prompt_id):
        raise TransferError(f"{where}: not a prompt id ('pmpt_' followed by 48 lowercase hex characters)")
    numbers = [v.version for v in prompt.versions]
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        problem = f"version {missing[0]} is missing" if missing else "a version number appears twice"
        raise TransferError(f"{where}: versions must be numbered 1..N without gaps: {problem}")
    versions = [_checked_version(where, v) for v in prompt.versions]
    _check_history(where, prompt.history, len(versions))
    live = {v.version for v in versions if not v.deleted}
    for label, number in {"default": prompt.default, **prompt.labels}.items():
        if not LABEL_RE.match(label) or label == "latest":
            raise TransferError(f"{where}: {label!r} is not a label that can be set")
        if number not in live:
            raise TransferError(f"{where}: label {label!r} points at version {number}, which is missing or deleted")
    return prompt.model_copy(update={"versions": versions})


def _check_history(where: str, history: list[ArchiveHistory], latest: int) -> None:
    seen: set[str] = set()
    for entry in history:
        if entry.id in seen:
            raise TransferError(f"{where}: history entry {entry.id} appears twice")
        seen.add(entry.id)
        for number in (entry.version, entry.from_version):
            if number is not None and number > latest:
                raise TransferError(f"{where}: history entry {entry.id} names version {number}, which is missing")


def _checked_version(where: str, v: ArchiveVersion) -> ArchiveVersion:
    if v.deleted:
        return ArchiveVersion(version=v.version, created_at=v.created_at, created_by=v.created_by, deleted=True)
    try:
        if v.messages is not None:
            messages = _MESSAGES.validate_python(v.messages)
            variables = validate_messages(messages=messages, variables=v.variables)
            text = messages_text(messages)
        else:
            messages, text = None, v.prompt
            variables = validate_template(text=text, variables=v.variables)
        unknown = sorted(set(v.settings) - set(SETTING_NAMES))
        if unknown:
            raise TransferError(f"{unknown[0]!r} is not a model setting")
        settings = settings_given(v.settings)
    except ValidationError as exc:
        raise TransferError(f"{where} version {v.version}: messages.{_pydantic_problem(exc)}") from None
    except (StackAdminError, TransferError) as exc:
        raise TransferError(f"{where} version {v.version}: {exc}") from None
    if v.message is not None and len(v.message) > MAX_MESSAGE_CHARS:
        raise TransferError(f"{where} version {v.version}: 'message' is longer than {MAX_MESSAGE_CHARS} characters")
    return v.model_copy(update={"prompt": text, "messages": messages, "variables": variables, "settings": settings})


def read_archives(
    paths: Iterable[str | Path], *, source: str | None = None, skip_invalid: bool = False
) -> tuple[list[tuple[Path | str, ArchivePrompt]], list[str]]:
    """Every prompt of every source (apps.prompts.transfer.source_entries), checked: (source, prompt) pairs, and
    the problems of the prompts skipped (only with `skip_invalid`; otherwise the first problem is raised and
    nothing is returned to import). A source is a Path, or a PostgreSQL URL as given."""
    found: list[tuple[Path | str, ArchivePrompt]] = []
    skipped: list[str] = []
    seen: dict[str, Path | str] = {}
    for path in archive_files(paths):
        for entry in source_entries(path, source):
            try:
                prompt = check_prompt(path, entry)
                if prompt.prompt_id in seen:
                    also = seen[prompt.prompt_id]
                    raise TransferError(f"{_where(path, entry)}: duplicate id (also in {shown(also)})")
            except TransferError as exc:
                if not skip_invalid:
                    raise
                skipped.append(str(exc))
                continue
            seen[prompt.prompt_id] = path
            found.append((path, prompt))
    return found, skipped


def iter_documents(dumps: Iterable[Any]) -> Iterator[dict]:
    """Archive entries of selector dumps (apps.prompts.selectors.PromptDump), lazily."""
    for dump in dumps:
        yield prompt_document(
            prompt_id=dump.prompt_id,
            default=dump.default,
            labels=dump.labels,
            versions=dump.versions,
            history=dump.history,
        )


def write_directory(directory: Path, documents: Iterable[dict], fmt: str) -> int:
    """One archive per prompt, `<prompt_id>.json` (or `.yaml`), each importable on its own."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for document in documents:
        with (directory / f"{document['prompt_id']}.{fmt}").open("w", encoding="utf-8") as out:
            write_document(out, [document], fmt)
        count += 1
    return count
