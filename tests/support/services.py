"""The local services some tests need (PostgreSQL, Redis) and what happens when one is missing.

On a developer machine a missing service skips the tests that need it; under CI (`CI=true`) it fails them,
because there everything must run.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "db": "test"}
REDIS = {"host": "127.0.0.1", "port": 6379}
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> NoReturn:
    """Skip the test for want of something outside the project; fail it under CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the tests needing it must run)")
    pytest.skip(message)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Go on only when the named local service (`postgres` or `redis`) answers."""
    target = PG if name == "postgres" else REDIS
    if not _reachable(target["host"], target["port"]):
        unavailable(f"{name} is not reachable at {target['host']}:{target['port']}")
