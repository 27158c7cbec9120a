"""Waiting for something to happen, with a deadline, instead of sleeping and hoping it did.

What a test waits for is usually visible only by asking again (a process's state, a queue's length, a log line),
so these poll with a short interval; the deadline only bounds how long a failure takes to show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = 10, interval: float = 0.02, what: str = "") -> T:
    """The first truthy value `predicate()` returns; TimeoutError when there is none within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what or predicate}")
        time.sleep(interval)


async def async_wait_until(
    predicate: Callable[[], T], *, timeout: float = 10, interval: float = 0.01, what: str = ""
) -> T:
    """The same inside an event loop, which keeps running (other tasks make progress) between two looks."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what or predicate}")
        await asyncio.sleep(interval)
