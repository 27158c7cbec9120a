"""Prompt archives for export/import tests: a store with every kind of prompt history, and its export."""

from __future__ import annotations

import io
import json

import yaml

from apps.prompts import selectors, services, transfer
from apps.storage.kv import kv_stores


def export_text(fmt: str = "json") -> str:
    out = io.StringIO()
    transfer.write_document(out, transfer.iter_documents(selectors.prompts_dump()), fmt)
    return out.getvalue()


def _parsed(text: str, fmt: str) -> dict:
    return yaml.safe_load(text) if fmt == "yaml" else json.loads(text)


def _written(documents: list[dict], fmt: str) -> str:
    out = io.StringIO()
    transfer.write_document(out, documents, fmt)
    return out.getvalue()


def without_added_imports(after: str, before: str, fmt: str = "json") -> str:
    """The round trip's documented normalisation: `after` (an export of a store `before` was imported into)
    without the history entries the import added (one per version per import: several for a store moved twice),
    which must each be an `imported` entry."""
    kept = {p["prompt_id"]: {e["id"] for e in p.get("history", ())} for p in _parsed(before, fmt)["prompts"]}
    prompts = _parsed(after, fmt)["prompts"]
    for prompt in prompts:
        known = kept.get(prompt["prompt_id"], set())
        added = [e for e in prompt["history"] if e["id"] not in known]
        assert all(e["action"] == "imported" and "import" in e["via"] for e in added), added
        assert {e["version"] for e in added} == {v["version"] for v in prompt["versions"]}, added  # once per import
        prompt["history"] = [e for e in prompt["history"] if e["id"] in known]
    return _written(prompts, fmt)


def without_history(text: str, fmt: str = "json") -> str:
    """An export without its history entries (to compare two imports of the same prompts, each of which stamps
    its own `imported` entries)."""
    prompts = _parsed(text, fmt)["prompts"]
    for prompt in prompts:
        prompt["history"] = []
    return _written(prompts, fmt)


def import_paths(*paths, **options) -> list[services.ImportOutcome]:
    prompts, _ = transfer.read_archives(paths, source=options.pop("source", None))
    return [services.prompt_import(prompt=p, source=transfer.import_source(path, p), **options) for path, p in prompts]


def wipe_store() -> None:
    kv_stores["prompts"].delete_range("", "\U0010ffff")


def populate() -> tuple[str, str]:
    """A text prompt with three versions, the default moved back to 2, a label on 3; a chat prompt with a deleted
    version and model settings."""
    text = services.prompt_create(text="Hello {{ name }}", variables=["name"], message="first", created_by="ada")
    services.prompt_update(prompt_id=text.prompt_id, text="Hi {{ name }}", variables=["name"], version=1)
    services.prompt_update(prompt_id=text.prompt_id, text="Hey {{ name }}!", variables=["name"], version=2)
    services.prompt_version_set_default(prompt_id=text.prompt_id, version=2)
    services.prompt_label_move(prompt_id=text.prompt_id, label="staging", version=3)
    chat = services.prompt_create(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{ q }}"}],
        variables=["q"],
        settings={"model": "gpt-4o", "temperature": 0.5},
    )
    services.prompt_update(
        prompt_id=chat.prompt_id, messages=[{"role": "user", "content": "{{ q }}?"}], variables=["q"], version=1
    )
    services.prompt_update(
        prompt_id=chat.prompt_id, messages=[{"role": "user", "content": "Q: {{ q }}"}], variables=["q"], version=2
    )
    services.prompt_version_delete(prompt_id=chat.prompt_id, version=2)
    return text.prompt_id, chat.prompt_id


def two_prompts_archive(owner: str = "ada") -> tuple[str, str, str]:
    """The export of a store holding a text prompt with two versions and a chat prompt, by `owner`; the store is
    emptied afterwards. Returns (archive text, text prompt id, chat prompt id)."""
    from apps.core.principal import Principal

    author = Principal(owner)
    text = services.prompt_create(text="Hello {{ name }}", variables=["name"], message="first", principal=author)
    services.prompt_update(
        prompt_id=text.prompt_id, text="Hi {{ name }}!", variables=["name"], version=1, principal=author
    )
    chat = services.prompt_create(
        messages=[{"role": "system", "content": "Answer {{ q }} briefly."}], variables=["q"], principal=author
    )
    archive = export_text()
    wipe_store()
    return archive, text.prompt_id, chat.prompt_id
