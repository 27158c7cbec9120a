"""Where each process keeps its listing index and its decoded history of a prompt store (apps.prompts.selectors
builds and reads them).

One slot per store, forgotten when the run config changes (apps.core.handlers), so an index never outlives the
store it was built from.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from apps.core.handlers import RunConfigHandler


@dataclass
class IndexSlot:
    # Held while the index is rebuilt, so concurrent listings after a write rebuild it once.
    lock: threading.Lock = field(default_factory=threading.Lock)
    index: Any = None  # the last PromptIndex built, or None
    # Summaries from the previous rebuild, by prompt, with the raw records they were built from: a rebuild after one
    # write re-reads every key (cheap) but only decodes the prompts whose records changed.
    summaries: dict[str, tuple[tuple, Any]] = field(default_factory=dict)
    # Every prompt's history, newest first, as (generation, entries); and the entries decoded so far, by key (an
    # entry never changes, so a rebuild after a write decodes only the new ones).
    history_lock: threading.Lock = field(default_factory=threading.Lock)
    history: tuple[str | None, list] | None = None
    history_entries: dict[str, Any] = field(default_factory=dict)


class _IndexSlots(RunConfigHandler[str, IndexSlot]):
    def create(self, key: str) -> IndexSlot:
        return IndexSlot()


index_slots = _IndexSlots()
