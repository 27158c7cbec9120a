"""Waiting for something to happen, with a deadline, instead of sleeping and hoping it did.

What a test waits for is usually visible only by asking again (a process's state, a queue's length, a log line),
so these poll with a short interval; the deadline only bounds how long a failure takes to show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _looks(predicate: Callable[[], T], timeout: float, what: str) -> Iterator[T]:
    """`predicate()`'s answers, until one is truthy; TimeoutError once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        yield value
        if value:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what or predicate}")


def wait_until(predicate: Callable[[], T], *, timeout: float = 10, interval: float = 0.02, what: str = "") -> T:
    """The first truthy value `predicate()` returns; TimeoutError when there is none within `timeout` seconds."""
    for value in _looks(predicate, timeout, what):
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("unreachable: _looks ends with a truthy value or TimeoutError")


async def async_wait_until(
    predicate: Callable[[], T], *, timeout: float = 10, interval: float = 0.01, what: str = ""
) -> T:
    """The same inside an event loop, which keeps running (other tasks make progress) between two looks."""
    for value in _looks(predicate, timeout, what):
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError("unreachable: _looks ends with a truthy value or TimeoutError")
