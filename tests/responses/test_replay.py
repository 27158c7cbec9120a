"""Replays against a candidate, at the service level, on the test database, with the model calls going through the
recorder (tests/responses/recordings; the fake model server when recording): a replay of 20 stored responses with
every item's original and new answer, the totals and the progress; cancelling one in the middle (the fake model
server itself, slow on one request); the access rules; and every refusal, with nothing stored."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django_tasks_db.models import DBTaskResult

from apps.core.errors import BadRequestError, NotFoundError
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.registry import close_registry
from apps.prompts import services as prompts
from apps.responses import replay
from apps.responses import services as responses
from apps.responses.models import ReplayItem, ReplayRun, StoredResponse
from apps.responses.replay import ReplaySpec
from tests.support.fake_upstream import FakeUpstream
from tests.support.inference import recordings
from tests.support.live_server import free_port
from tests.support.replay import poll, store_response, use_model_server

pytestmark = pytest.mark.django_db(transaction=True)

RECORDINGS = recordings("responses")
PRICES = {"fake-model": {"input": 2.0, "output": 10.0}}


@pytest.fixture
async def models(settings, monkeypatch, tmp_path, upstream):
    use_model_server(
        settings,
        monkeypatch,
        tmp_path,
        url=upstream.url,
        mode=upstream.mode,
        recordings=RECORDINGS,
        usage={"prices": PRICES, "replay_max": 25},
    )
    yield
    await close_registry()  # the model clients of this test's event loop


def two_versions(principal: Principal = ANONYMOUS) -> str:
    """Version 1 (the default) and a candidate, version 2, that words its system prompt differently."""
    first = prompts.prompt_create(
        text="You explain {{ topic }}.", variables=["topic"], settings={"model": "fake-model"}, principal=principal
    )
    prompts.prompt_update(
        prompt_id=first.prompt_id,
        text="You kindly explain {{ topic }}.",
        variables=["topic"],
        settings={"model": "fake-model"},
        version=1,
        set_as_default=False,
        principal=principal,
    )
    return first.prompt_id


@pytest.fixture
def prompt_id(models) -> str:
    return two_versions()


async def made_with_version_1(prompt_id: str, count: int, principal: Principal = ANONYMOUS) -> list[str]:
    """Responses made through the responses service with version 1; the fake model echoes what it was sent."""
    made = []
    for n in range(count):
        body = {
            "prompt": {"id": prompt_id, "version": "1", "variables": {"topic": f"topic {n}"}},
            "input": f"#echo question {n}",
        }
        response = await responses.response_create(request=responses.response_request(body=body), principal=principal)
        made.append(response["id"])
    return made


def items_of(run_id: str) -> list[ReplayItem]:
    return list(ReplayItem.objects.filter(run__public_id=run_id).order_by("position"))


def run_row(run_id: str) -> ReplayRun:
    return ReplayRun.objects.get(public_id=run_id)


# ------------------------------------------------------------------------------------------ a replay of 20
async def test_a_replay_of_20_stored_responses_against_a_candidate(prompt_id):
    made = await made_with_version_1(prompt_id, 19)
    # Stored when the model server answered it; it now fails (an upstream failure on one item).
    failing = await sync_to_async(store_response)(
        prompt_id, version=1, variables={"topic": "rain"}, text="#fail500 why", answer="It was fine then."
    )
    stored_before = await StoredResponse.objects.acount()

    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
    )
    assert (run.total, run.processed, run.status) == (20, 0, "queued")
    assert await DBTaskResult.objects.filter(id=run.task_id).aexists()  # the task engine's row, for any runner

    assert await replay.replay_execute(run_id=run.public_id) == "completed"

    items = await sync_to_async(items_of)(run.public_id)
    assert [item.response_id for item in items] == [failing.public_id, *reversed(made)]  # newest first
    originals = {row.public_id: row async for row in StoredResponse.objects.filter(public_id__in=made)}
    for item in items[1:]:
        n = int(item.input_text.rsplit(" ", 1)[1])
        sent_before, sent_now = json.loads(item.original_text)["messages"], json.loads(item.text)["messages"]
        assert item.original_text == originals[item.response_id].response["output"][0]["content"][0]["text"]
        assert sent_before[0] == {"role": "system", "content": f"You explain topic {n}."}
        assert sent_now[0] == {"role": "system", "content": f"You kindly explain topic {n}."}  # the candidate
        assert sent_now[1:] == sent_before[1:]  # the same input
        assert (item.state, item.status, item.error) == ("done", "completed", "")
        assert item.model == "fake-model"
        assert item.input_tokens > 0
        assert item.output_tokens > 0
        assert item.latency_ms is not None
        assert (item.original_input_tokens, item.original_output_tokens) == (
            originals[item.response_id].input_tokens,
            originals[item.response_id].output_tokens,
        )
    assert items[0].state == "error"
    assert "exploded" in items[0].error  # the model server's message
    assert items[0].original_text == "It was fine then."

    finished = await sync_to_async(run_row)(run.public_id)
    assert (finished.status, finished.processed, finished.errors) == ("completed", 20, 1)
    assert finished.finished_at is not None
    assert await StoredResponse.objects.acount() == stored_before  # replayed calls are not stored as responses
    with pytest.raises(BadRequestError, match="already completed"):
        await replay.replay_cancel(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)

    totals = await sync_to_async(replay.replay_totals)(run=finished)
    done = items[1:]
    assert (totals.candidate.answered, totals.candidate.errors) == (19, 1)
    assert totals.candidate.input_tokens == sum(item.input_tokens for item in done)
    assert totals.candidate.output_tokens == sum(item.output_tokens for item in done)
    assert totals.candidate.latency_ms == sum(item.latency_ms for item in done)
    assert totals.candidate.cost == pytest.approx(
        (2.0 * totals.candidate.input_tokens + 10.0 * totals.candidate.output_tokens) / 1_000_000
    )
    assert (totals.original.answered, totals.original.errors) == (20, 0)
    original_input = sum(row.input_tokens for row in originals.values()) + 7
    assert totals.original.input_tokens == original_input
    assert totals.original.output_tokens == sum(row.output_tokens for row in originals.values()) + 3


async def test_a_label_replays_what_was_made_while_it_pointed_at_the_version(prompt_id):
    await sync_to_async(store_response)(
        prompt_id, version=1, variables={"topic": "a"}, text="#echo in production", answer="x", labels="|production|"
    )
    await sync_to_async(store_response)(prompt_id, version=1, variables={"topic": "b"}, text="#echo staged", answer="y")
    spec = ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_label="production", model="alias-model")
    run = await replay.replay_create(spec=spec, principal=ANONYMOUS)
    assert await replay.replay_execute(run_id=run.public_id) == "completed"
    (item,) = await sync_to_async(items_of)(run.public_id)
    assert item.input_text == "#echo in production"
    assert item.model == "alias-model"  # the model chosen, not the original's


async def test_a_sample_takes_the_most_recent(prompt_id):
    made = await made_with_version_1(prompt_id, 3)
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1, sample=2), principal=ANONYMOUS
    )
    assert [item.response_id for item in await sync_to_async(items_of)(run.public_id)] == made[:0:-1]


# ------------------------------------------------------------------------------------------ cancel
@pytest.fixture
async def slow_model_server(settings, monkeypatch, tmp_path):
    """The fake model server itself (a replay cannot be slow): one request at a time, so the replay is in the
    middle of a request that takes its time when it is cancelled."""
    fake = FakeUpstream(free_port()).start()
    use_model_server(
        settings,
        monkeypatch,
        tmp_path,
        url=fake.url,
        mode="live",
        recordings=RECORDINGS,
        usage={"replay_concurrency": 1},
    )
    yield fake
    await close_registry()
    fake.server.force_exit = True  # without waiting for the slow request the replay gave up on
    fake.stop()


async def test_cancelling_in_the_middle_keeps_the_answers_in_and_runs_nothing_more(slow_model_server):
    prompt_id = await sync_to_async(two_versions)()
    texts = ["#echo first", "#echo second", "#slow:15 third", "#echo fourth", "#echo fifth"]
    for text in reversed(texts):  # stored oldest first: the first text is the newest, replayed first
        await sync_to_async(store_response)(prompt_id, version=1, variables={"topic": "t"}, text=text, answer="old")
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
    )
    running = asyncio.create_task(replay.replay_execute(run_id=run.public_id))

    async def two_done():
        return (await sync_to_async(run_row)(run.public_id)).processed == 2

    await poll(two_done, what="the first two items to be answered")
    assert (await sync_to_async(run_row)(run.public_id)).status == "running"  # progress, while it runs
    cancelled = await replay.replay_cancel(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)
    assert cancelled.status == "cancelled"
    assert await asyncio.wait_for(running, timeout=10) == "cancelled"  # the slow request is not waited for

    items = await sync_to_async(items_of)(run.public_id)
    assert [item.state for item in items] == ["done", "done", "cancelled", "cancelled", "cancelled"]
    assert [bool(item.text) for item in items] == [True, True, False, False, False]
    finished = await sync_to_async(run_row)(run.public_id)
    assert (finished.status, finished.processed) == ("cancelled", 2)
    again = await replay.replay_cancel(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)
    assert again.status == "cancelled"  # as OpenAI's cancel of a cancelled response: it is returned


async def test_a_replay_cancelled_before_it_starts_runs_nothing(prompt_id):
    await made_with_version_1(prompt_id, 1)
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
    )
    await replay.replay_cancel(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)
    assert await replay.replay_execute(run_id=run.public_id) == "cancelled"
    assert [item.state for item in await sync_to_async(items_of)(run.public_id)] == ["cancelled"]


async def test_delete_removes_the_run_and_its_items(prompt_id):
    await made_with_version_1(prompt_id, 1)
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
    )
    await replay.replay_delete(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)
    assert not await ReplayRun.objects.filter(public_id=run.public_id).aexists()
    assert await ReplayItem.objects.acount() == 0
    with pytest.raises(NotFoundError):
        await replay.replay_delete(prompt_id=prompt_id, run_id=run.public_id, principal=ANONYMOUS)


# ------------------------------------------------------------------------------------------ access
@pytest.fixture
def users(settings, models):
    settings.STACKADMIN_AUTH_ENABLED = True
    return Principal("alice"), Principal("bob")


async def test_only_the_responses_the_user_may_read_are_replayed(users):
    alice, bob = users
    shared = await sync_to_async(two_versions)()  # made without an owner: everyone may read it
    for owner, text in ((alice, "#echo alice one"), (alice, "#echo alice two"), (bob, "#echo bob one")):
        await sync_to_async(store_response)(
            shared, version=1, variables={"topic": "t"}, text=text, answer="a", owner=owner
        )
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=shared, candidate_version=2, source_version=1), principal=bob
    )
    assert [item.input_text for item in await sync_to_async(items_of)(run.public_id)] == ["#echo bob one"]
    # Alice does not see bob's replay (which shows his responses), nor can she cancel or delete it.
    for attempt in (
        sync_to_async(replay.replay_get)(prompt_id=shared, run_id=run.public_id, principal=alice),
        replay.replay_cancel(prompt_id=shared, run_id=run.public_id, principal=alice),
        replay.replay_delete(prompt_id=shared, run_id=run.public_id, principal=alice),
    ):
        with pytest.raises(NotFoundError):
            await attempt
    assert [r.public_id for r in await sync_to_async(replay.replay_list)(prompt_id=shared, principal=alice)] == []


async def test_a_prompt_the_user_may_not_read_is_not_found(users):
    alice, bob = users
    private = await sync_to_async(two_versions)(alice)
    await sync_to_async(store_response)(
        private, version=1, variables={"topic": "t"}, text="#echo", answer="a", owner=alice
    )
    spec = ReplaySpec(prompt_id=private, candidate_version=2, source_version=1)
    with pytest.raises(NotFoundError):
        await replay.replay_create(spec=spec, principal=bob)
    run = await replay.replay_create(spec=spec, principal=alice)
    with pytest.raises(NotFoundError):
        await sync_to_async(replay.replay_get)(prompt_id=private, run_id=run.public_id, principal=bob)
    with pytest.raises(NotFoundError):
        await sync_to_async(replay.replay_list)(prompt_id=private, principal=bob)


# ------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("spec", "param", "message"),
    [
        ({"source_version": 2}, "source", "nothing to replay"),
        ({"source_version": 1, "since_hours": -1}, "source", "nothing to replay"),
        ({"source_label": "production"}, "source", "nothing to replay"),
        ({"source_version": 1, "sample": 26}, "sample", "at most 25 responses"),
        ({"source_version": 1, "candidate_version": 9}, "candidate", "has no version 9"),
        ({"source_version": 1, "model": "no-such-model"}, "model", "no-such-model"),
    ],
)
async def test_a_refused_replay_says_why_and_stores_nothing(prompt_id, spec, param, message):
    from datetime import timedelta

    from django.utils import timezone

    await sync_to_async(store_response)(prompt_id, version=1, variables={"topic": "t"}, text="#echo", answer="a")
    since = timezone.now() - timedelta(hours=spec.pop("since_hours")) if "since_hours" in spec else None
    with pytest.raises(BadRequestError, match=message) as refused:
        await replay.replay_create(
            spec=ReplaySpec(**{"prompt_id": prompt_id, "candidate_version": 2, "since": since, **spec}),
            principal=ANONYMOUS,
        )
    assert refused.value.param == param
    assert await ReplayRun.objects.acount() == 0
    assert await ReplayItem.objects.acount() == 0
    assert await DBTaskResult.objects.acount() == 0


async def test_more_matching_responses_than_the_maximum_is_refused(prompt_id, settings):
    for n in range(26):
        await sync_to_async(store_response)(
            prompt_id, version=1, variables={"topic": "t"}, text=f"#echo {n}", answer="a"
        )
    with pytest.raises(BadRequestError, match="More than 25 stored responses match") as refused:
        await replay.replay_create(
            spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
        )
    assert refused.value.param == "sample"
    assert await ReplayRun.objects.acount() == 0
    sampled = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1, sample=25), principal=ANONYMOUS
    )
    assert sampled.total == 25


# ------------------------------------------------------------------------------------------ processes that died
async def test_a_running_replay_whose_process_died_is_failed_by_any_process(prompt_id):
    from datetime import timedelta

    from django.utils import timezone

    await made_with_version_1(prompt_id, 1)
    run = await replay.replay_create(
        spec=ReplaySpec(prompt_id=prompt_id, candidate_version=2, source_version=1), principal=ANONYMOUS
    )
    silent_since = timezone.now() - replay.STALE_AFTER - timedelta(seconds=1)
    await ReplayRun.objects.filter(pk=run.pk).aupdate(status="running", heartbeat_at=silent_since)
    await sync_to_async(replay.replay_reap)("another-worker")
    failed = await sync_to_async(run_row)(run.public_id)
    assert failed.status == "failed"
    assert "stopped" in failed.message
    assert [item.state for item in await sync_to_async(items_of)(run.public_id)] == ["cancelled"]


# ------------------------------------------------------------------------------------------ the run config
def test_the_usage_section_bounds_replays():
    from apps.core.config import ConfigError
    from apps.responses.config import REPLAY_CONCURRENCY, REPLAY_MAX, parse_usage

    assert (parse_usage({}).replay_max, parse_usage({}).replay_concurrency) == (REPLAY_MAX, REPLAY_CONCURRENCY)
    parsed = parse_usage({"replay_max": 10, "replay_concurrency": 2})
    assert (parsed.replay_max, parsed.replay_concurrency) == (10, 2)
    for bad in ({"replay_max": 0}, {"replay_max": "many"}, {"replay_concurrency": True}):
        with pytest.raises(ConfigError, match=f"usage.{next(iter(bad))}: must be an integer >= 1"):
            parse_usage(bad)
