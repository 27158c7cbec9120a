"""Where prometheus-client's worker processes keep their values (multiprocess mode), set up by `stackadmin run`.

Kept apart from stackadmin/observability.py, which needs Django set up: this runs before Django and before anything
imports prometheus-client, which reads `PROMETHEUS_MULTIPROC_DIR` once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path


def prepare_multiprocess_dir(home: str) -> str:
    """Point prometheus-client at an empty directory shared by this process and the workers it starts; called by
    `stackadmin run` before anything imports prometheus-client. `PROMETHEUS_MULTIPROC_DIR` set by the operator
    is used as it is (and emptied: values of a previous run must not count)."""
    directory = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(home) / "metrics")
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.glob("*.db"):
        entry.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return str(directory)
