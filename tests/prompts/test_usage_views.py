"""Usage on the dashboard: the prompt page's SVG chart and per-version table (page and htmx partial), the moves of
labels on the time axis, the filters, and the list page's sparklines, over stored responses with known values."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from apps.prompts import services
from apps.prompts.usage import usage_chart
from apps.responses.models import StoredResponse
from apps.responses.usage import SeriesPoint
from tests.support.dashboard import assert_page, assert_partial, hx

_ids = itertools.count()
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prompts_backend")]


@pytest.fixture
def web(client, alice):
    client.force_login(alice)
    return client


def stored(prompt_id: str, version: int, when: datetime, *, n: int, status="completed", labels="|default|", **extra):
    StoredResponse.objects.bulk_create(
        StoredResponse(
            public_id=f"resp_view{next(_ids):06d}",
            created_at=when,
            model="fake-model",
            status=status,
            response={},
            input_items=[],
            messages=[],
            prompt_id=prompt_id,
            prompt_version=version,
            prompt_labels=labels,
            input_tokens=10,
            output_tokens=4,
            reasoning_tokens=0,
            latency_ms=100 + i,
            **extra,
        )
        for i in range(n)
    )


@pytest.fixture
def used():
    """A prompt with two versions: v1 used 3 times two days ago (one failed), v2 (labelled `production`) 5 times
    an hour ago, and a playground run that does not count."""
    first = services.prompt_create(text="Hi {{ name }}", variables=["name"])
    prompt_id = first.prompt_id
    services.prompt_update(prompt_id=prompt_id, text="Hello {{ name }}", variables=["name"], version=1)
    services.prompt_label_move(prompt_id=prompt_id, label="production", version=2, message="ship <it>")
    now = datetime.now(UTC)
    stored(prompt_id, 1, now - timedelta(days=2), n=2)
    stored(prompt_id, 1, now - timedelta(days=2), n=1, status="failed")
    stored(prompt_id, 2, now - timedelta(hours=1), n=5, labels="|default|production|")
    stored(prompt_id, 2, now - timedelta(hours=1), n=1, origin="playground")
    return prompt_id


def bars(body: str) -> list[tuple[int, int]]:
    return [
        (int(v), int(r))
        for v, r in re.findall(r'<rect class="bar[^"]*" data-version="(\d+)" data-requests="(\d+)"', body)
    ]


def row(body: str, version: int) -> str:
    match = re.search(rf'<tr data-version="{version}">(.*?)</tr>', body, re.S)
    assert match, f"no row for version {version}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_the_prompt_page_shows_a_chart_and_a_table(web, used):
    body = assert_page(web.get(f"/dashboard/{used}/"), "prompt-usage")
    assert '<svg class="usage-chart"' in body
    assert sorted(bars(body)) == [(1, 3), (2, 5)]  # 7 days by day: v1's three uses in one bar, v2's five in another
    assert "8 requests: version 1, version 2." in body  # the chart's description
    assert row(body, 2).startswith("v2 5 0 (0%) 0 (0%) 50 (10) 20 (4) 0 102 / 104 ms")
    assert row(body, 1).startswith("v1 3 1 (33%) 0 (0%) 30 (10) 12 (4) 0 100 / 101 ms")
    assert "production" in row(body, 2)


def test_the_move_of_a_label_is_marked_on_the_time_axis(web, used):
    body = web.get(f"/dashboard/{used}/").content.decode()
    markers = re.findall(r'<g class="marker">.*?<text[^>]*>(.*?)</text>', body, re.S)
    assert "production → v2" in markers
    assert "default → v2" in markers


def test_the_usage_region_as_an_htmx_partial_with_a_range_and_a_label(web, used):
    response = web.get(f"/dashboard/{used}/?usage_range=24h&usage_label=production", headers=hx("prompt-usage"))
    body = assert_partial(response, "prompt-usage")
    assert bars(body) == [(2, 5)]  # only the last day, only while production pointed at the version
    assert 'value="production" selected' in body
    assert "Requests per hour by version" in body


def test_an_unused_range_says_so(web, used):
    body = web.get(f"/dashboard/{used}/?usage_label=staging").content.decode()
    assert "No stored response used this prompt in this range" in body
    assert '<svg class="usage-chart"' not in body


def test_a_bad_range_or_label_falls_back_instead_of_failing(web, used):
    body = assert_page(web.get(f"/dashboard/{used}/?usage_range=forever&usage_label=%3Cb%3E"), "prompt-usage")
    assert sorted(bars(body)) == [(1, 3), (2, 5)]
    assert "<b>" not in body


def test_the_list_page_has_a_sparkline_per_prompt(web, used):
    unused = services.prompt_create(text="Unused").prompt_id
    body = assert_page(web.get("/dashboard/"), "prompt-list")
    assert body.count('<svg class="sparkline"') == 2
    assert "8 requests in the last 14 days (peak 5 a day)" in body  # the playground run is not counted
    assert "0 requests in the last 14 days" in body
    assert unused in body


def test_the_chart_geometry():
    since = datetime(2026, 11, 1, tzinfo=UTC)
    series = [SeriesPoint(since, 1, 2, 0), SeriesPoint(since, 2, 6, 1), SeriesPoint(since + timedelta(days=2), 2, 4, 0)]
    chart = usage_chart(series=series, since=since, until=since + timedelta(days=4), bucket="day")
    first, second, third = chart.bars
    assert (first.version, second.version, third.version) == (1, 2, 2)
    assert first.y + first.height == chart.baseline  # v1 at the bottom of the first stack
    assert second.y + second.height == pytest.approx(first.y)  # v2 on top of it
    assert second.y == pytest.approx(chart.top)  # the highest stack reaches the top
    assert third.height == pytest.approx((first.height + second.height) / 2)  # 4 of the peak 8
    assert third.x > second.x
    assert [t.text for t in chart.y_ticks] == ["0", "4", "8"]
    assert chart.total == 12


def test_the_usage_region_queries_do_not_grow_with_versions_or_responses(web, used, django_assert_num_queries):
    # Session, user, access attributes; then totals, the percentiles of every column, labels at use, the series.
    url = f"/dashboard/{used}/"
    with django_assert_num_queries(7):
        web.get(url, headers=hx("prompt-usage"))
    for version in range(2, 6):
        services.prompt_update(
            prompt_id=used, text=f"v{version + 1} {{{{ name }}}}", variables=["name"], version=version
        )
        stored(used, version + 1, datetime.now(UTC) - timedelta(hours=version), n=20)
    with django_assert_num_queries(7):
        body = web.get(url, headers=hx("prompt-usage")).content.decode()
    assert len(set(v for v, _ in bars(body))) == 6


def test_other_regions_do_not_run_the_usage_queries(web, used, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert_partial(web.get(f"/dashboard/{used}/", headers=hx("version-list")), "version-list")


def test_cost_shows_when_the_run_config_has_prices(web, used, settings):
    from dataclasses import replace

    from apps.responses.config import parse_usage

    body = web.get(f"/dashboard/{used}/").content.decode()
    assert '<th scope="col">Cost</th>' not in body  # no price table, no cost column
    prices = parse_usage({"prices": {"fake-model": {"input": 1000, "output": 2000}}})
    settings.STACKADMIN_RUN_CONFIG = replace(settings.STACKADMIN_RUN_CONFIG, usage=prices)
    body = web.get(f"/dashboard/{used}/").content.decode()
    assert '<th scope="col">Cost</th>' in body
    # Version 2: 50 input and 20 output tokens: (50 * 1000 + 20 * 2000) / 1,000,000.
    assert " 0.0900 " in row(body, 2)


def chatted(prompt_id: str, version: int, when: datetime, *, n: int) -> None:
    """`n` stored chat completions that named the prompt version in their metadata."""
    from apps.inference.models import ChatCompletion

    ChatCompletion.objects.bulk_create(
        ChatCompletion(
            public_id=f"chatcmpl-view{next(_ids):06d}",
            created_at=when,
            model="fake-model",
            completion={},
            input_messages=[],
            metadata={"prompt_id": prompt_id, "prompt_version": str(version)},
            prompt_id=prompt_id,
            prompt_version=version,
            prompt_labels="|default|production|",
            input_tokens=10,
            output_tokens=4,
            latency_ms=100,
        )
        for _ in range(n)
    )


def test_chat_completions_made_with_the_prompt_count_and_are_marked(web, used):
    chatted(used, 2, datetime.now(UTC) - timedelta(hours=1), n=2)
    body = web.get(f"/dashboard/{used}/", headers=hx("prompt-usage")).content.decode()
    assert row(body, 2).startswith("v2 7 (2 chat) 0 (0%) 0 (0%) 70 (10) 28 (4)")
    assert row(body, 1).startswith("v1 3 1 (33%)")  # no chat completion: nothing said
    assert sum(r for v, r in bars(body) if v == 2) == 7


def test_the_sparkline_counts_chat_completions_too(web, used):
    chatted(used, 2, datetime.now(UTC) - timedelta(hours=1), n=2)
    chatted(used, 1, datetime.now(UTC) - timedelta(days=20), n=1)  # outside the 14 days
    body = assert_page(web.get("/dashboard/"), "prompt-list")
    assert "10 requests in the last 14 days (peak 7 a day)" in body
