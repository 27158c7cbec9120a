"""Prompt archives for export/import tests: a store with every kind of prompt history, and its export."""

from __future__ import annotations

import io

from apps.prompts import selectors, services, transfer
from apps.storage.kv import kv_stores


def export_text(fmt: str = "json") -> str:
    out = io.StringIO()
    transfer.write_document(out, transfer.iter_documents(selectors.prompts_dump()), fmt)
    return out.getvalue()


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
