from __future__ import annotations

import pytest

from tests.support.kv import empty_redis_namespace
from tests.support.names import unique


@pytest.fixture
def redis_namespace(redis_service):
    """A fresh Redis namespace for a server's prompts, emptied afterwards."""
    namespace = unique("live_")
    yield namespace
    for ns in (namespace, f"{namespace}_registry"):
        empty_redis_namespace(ns)
