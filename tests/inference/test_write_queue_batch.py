"""The write queue's group commit: queued inserts share one transaction, and one bad row fails only its own caller.

The writer thread is held on a first write until the rest are queued, so they are taken as one batch.
"""

from __future__ import annotations

import asyncio
import threading

from django.db import IntegrityError, router
from django.utils import timezone

import pytest

from apps.responses.models import StoredResponse
from apps.storage.write_queue import WriteQueue
from tests.support.names import unique
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def row(public_id: str) -> StoredResponse:
    return StoredResponse(
        public_id=public_id,
        created_at=timezone.now(),
        model="fake-model",
        status="completed",
        response={"id": public_id},
        input_items=[],
        messages=[],
    )


async def queue_behind_a_held_writer(write_queue: WriteQueue, jobs) -> list:
    """Hold the writer on a first write, queue `jobs` (coroutine factories) behind it, then let it go."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> str:
        entered.set()
        release.wait(10)
        return "held"

    first = asyncio.ensure_future(write_queue.submit(hold))
    await asyncio.to_thread(entered.wait, 10)
    tasks = [asyncio.ensure_future(job()) for job in jobs]
    await async_wait_until(lambda: write_queue.pending() == len(jobs), what="every job on the queue")
    assert write_queue.pending() == len(jobs)
    release.set()
    assert await first == "held"
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_queued_inserts_are_stored_together_and_a_bad_row_fails_alone():
    alias = router.db_for_write(StoredResponse)
    write_queue = WriteQueue(name="responses", alias=alias, max_size=100, num_writers=1)
    prefix = unique("resp_batch_")
    await asyncio.to_thread(row(f"{prefix}_taken").save, using=alias)
    ids = [f"{prefix}_{n}" for n in range(10)]
    # The fifth insert repeats an id that is already stored; a function write sits among the inserts.
    ids[4] = f"{prefix}_taken"
    jobs = [lambda public_id=public_id: write_queue.insert(row(public_id)) for public_id in ids]
    jobs.insert(6, lambda: write_queue.submit(lambda: "function write"))
    try:
        results = await queue_behind_a_held_writer(write_queue, jobs)
    finally:
        await asyncio.to_thread(write_queue.drain)

    assert results[6] == "function write"
    inserted = results[:6] + results[7:]
    assert isinstance(inserted[4], IntegrityError)
    good = [r for r in inserted if not isinstance(r, Exception)]
    assert len(good) == 9
    assert all(r.pk is not None for r in good)
    assert [r.public_id for r in good] == [i for i in ids if i != f"{prefix}_taken"]
    stored = await asyncio.to_thread(
        lambda: dict(
            StoredResponse.objects.using(alias).filter(public_id__startswith=prefix).values_list("public_id", "pk")
        )
    )
    assert stored == {**{r.public_id: r.pk for r in good}, f"{prefix}_taken": stored[f"{prefix}_taken"]}
