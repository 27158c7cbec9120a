"""Where the repository is: servers, `manage.py` and the CLI run from its root."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
