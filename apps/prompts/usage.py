"""Usage on the dashboard: the prompt page's chart and per-version table, and the list page's sparklines.

The figures come from the responses app's selectors (`prompt_usage`, `prompts_daily_requests`), which aggregate
in the database; this module only picks the time range from the request and lays the figures out as SVG shapes
(rendered by templates/components/_usage_chart.html and _sparkline.html, server-side: no script, no CDN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from apps.core.errors import BadRequestError
from apps.core.principal import Principal
from apps.prompts.records import HistoryEntry
from apps.responses import selectors as response_selectors

# The ranges the prompt page offers: (label, bucket, number of buckets).
RANGES = {"24h": ("Last 24 hours", "hour", 24), "7d": ("Last 7 days", "day", 7), "30d": ("Last 30 days", "day", 30)}
DEFAULT_RANGE = "7d"
BUCKET = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
PALETTE_SIZE = 8  # CSS classes series-0 … series-7
SPARK_DAYS = 14

# Chart geometry, in SVG user units (the SVG scales to its box).
WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 22, 24
MOVE_ACTIONS = ("default_moved", "label_moved")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    version: int
    requests: int
    start: datetime

    @property
    def series(self) -> int:
        return self.version % PALETTE_SIZE


@dataclass(frozen=True)
class Marker:
    x: float
    text: str  # "default → v2"
    at: datetime


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    markers: list[Marker]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    versions: list[tuple[int, int]]  # (version, palette index) for the legend, oldest first
    total: int
    bucket: str = "day"
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP

    @cached_property
    def svg(self) -> SafeString:
        """The chart as inline SVG. Built here rather than in a template: a month of hourly bars is thousands of
        attributes, which Django's template engine takes tens of milliseconds to format; `format_html` escapes
        every value all the same."""
        versions = ", ".join(f"version {v}" for v, _ in self.versions)
        return format_html(
            '<svg class="usage-chart" viewBox="0 0 {} {}" role="img" aria-labelledby="usage-chart-title '
            'usage-chart-desc" preserveAspectRatio="none"><title id="usage-chart-title">Requests per {} by version'
            '</title><desc id="usage-chart-desc">{} request{}{}.</desc>{}{}{}{}</svg>',
            self.width,
            self.height,
            self.bucket,
            self.total,
            "" if self.total == 1 else "s",
            f": {versions}" if versions else "",
            self._grid(),
            self._bars(),
            self._markers(),
            format_html_join(
                "",
                '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                ((_n(t.position), self.height - 6, t.text) for t in self.x_ticks),
            ),
        )

    def _grid(self) -> SafeString:
        return format_html_join(
            "",
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
            '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
            (
                (self.left, self.right, _n(t.position), _n(t.position), self.left - 4, _n(t.position), t.text)
                for t in self.y_ticks
            ),
        )

    def _bars(self) -> SafeString:
        def title(bar: Bar) -> str:
            plural = "" if bar.requests == 1 else "s"
            return f"Version {bar.version}: {bar.requests} request{plural}, {bar.start:%Y-%m-%d %H:%M} UTC"

        return format_html_join(
            "",
            '<rect class="bar series-{}" data-version="{}" data-requests="{}" x="{}" y="{}" width="{}" '
            'height="{}"><title>{}</title></rect>',
            (
                (b.series, b.version, b.requests, _n(b.x), _n(b.y), _n(b.width), _n(b.height), title(b))
                for b in self.bars
            ),
        )

    def _markers(self) -> SafeString:
        return format_html_join(
            "",
            '<g class="marker"><line x1="{}" x2="{}" y1="{}" y2="{}"></line>'
            '<text x="{}" y="{}" text-anchor="middle">{}</text><title>{} at {} UTC</title></g>',
            (
                (
                    _n(m.x),
                    _n(m.x),
                    self.top - 8,
                    self.baseline,
                    _n(m.x),
                    self.top - 10,
                    m.text,
                    m.text,
                    f"{m.at:%Y-%m-%d %H:%M}",
                )
                for m in self.markers
            ),
        )


def _n(value: float) -> str:
    """A coordinate as SVG takes it: one decimal."""
    return f"{value:.1f}"


def _floor(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def range_bounds(key: str, now: datetime | None = None) -> tuple[datetime, datetime, str]:
    """(since, until, bucket) of a named range ending with the current hour or day."""
    _, bucket, count = RANGES[key]
    end = _floor(now or datetime.now(UTC), bucket) + BUCKET[bucket]
    return end - count * BUCKET[bucket], end, bucket


def _y_ticks(peak: int, scale: float) -> list[Tick]:
    if peak == 0:
        return [Tick(HEIGHT - BOTTOM, "0")]
    values = sorted({0, peak // 2, peak}) if peak > 1 else [0, peak]
    return [Tick(HEIGHT - BOTTOM - v * scale, str(v)) for v in values]


def _x_label(moment: datetime, bucket: str) -> str:
    return moment.strftime("%H:%M") if bucket == "hour" else moment.strftime("%b %-d")


def usage_chart(
    *,
    series: list,
    since: datetime,
    until: datetime,
    bucket: str,
    moves: list[HistoryEntry] = (),
) -> Chart:
    """Stacked bars of requests per bucket (one stack per bucket, one segment per version, oldest version at the
    bottom), with the moves of the default and labels marked where they happened on the time axis."""
    step = BUCKET[bucket]
    count = max(1, round((until - since) / step))
    slot = (WIDTH - LEFT - RIGHT) / count
    stacks: dict[datetime, list] = {}
    for point in series:
        stacks.setdefault(point.start, []).append(point)
    peak = max((sum(p.requests for p in points) for points in stacks.values()), default=0)
    scale = (HEIGHT - TOP - BOTTOM) / peak if peak else 0
    bars = []
    for start, points in stacks.items():
        index = (start - since) // step
        base = HEIGHT - BOTTOM
        for point in sorted(points, key=lambda p: p.version):
            height = point.requests * scale
            base -= height
            bars.append(
                Bar(LEFT + index * slot + slot * 0.1, base, slot * 0.8, height, point.version, point.requests, start)
            )
    span = (until - since).total_seconds()
    markers = [
        Marker(LEFT + (e.created - since).total_seconds() / span * (WIDTH - LEFT - RIGHT), _move_text(e), e.created)
        for e in moves
        if e.action in MOVE_ACTIONS and since <= e.created < until
    ]
    ticks = [0, count // 2, count - 1] if count > 2 else list(range(count))
    x_ticks = [Tick(LEFT + i * slot + slot / 2, _x_label(since + i * step, bucket)) for i in ticks]
    versions = sorted({p.version for p in series})
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        markers=sorted(markers, key=lambda m: m.x),
        x_ticks=x_ticks,
        y_ticks=_y_ticks(peak, scale),
        versions=[(v, v % PALETTE_SIZE) for v in versions],
        total=sum(p.requests for p in series),
        bucket=bucket,
    )


def _move_text(entry: HistoryEntry) -> str:
    name = "default" if entry.action == "default_moved" else entry.label
    return f"{name} → v{entry.version}"


@dataclass
class UsagePanel:
    """The prompt page's usage region, computed only when a template reads it (a refresh of another region of
    the page does not run the usage queries)."""

    prompt_id: str
    principal: Principal
    range_key: str = DEFAULT_RANGE
    label: str | None = None
    moves: list[HistoryEntry] = field(default_factory=list)
    now: datetime | None = None

    ranges = RANGES

    @classmethod
    def from_query(cls, query, **kwargs) -> UsagePanel:
        """From the page's query string (`usage_range`, `usage_label`); an unknown range or label is ignored."""
        key = query.get("usage_range")
        label = (query.get("usage_label") or "").strip() or None
        return cls(range_key=key if key in RANGES else DEFAULT_RANGE, label=label, **kwargs)

    @cached_property
    def bounds(self) -> tuple[datetime, datetime, str]:
        return range_bounds(self.range_key, self.now)

    @cached_property
    def result(self):
        since, until, bucket = self.bounds
        filters = response_selectors.UsageFilter(since=since, until=until, label=self.label)
        try:
            return response_selectors.prompt_usage(
                prompt_id=self.prompt_id, filters=filters, bucket=bucket, principal=self.principal
            )
        except BadRequestError:  # a label that is not a label name: no filter rather than an error page
            self.label = None
            filters = response_selectors.UsageFilter(since=since, until=until)
            return response_selectors.prompt_usage(
                prompt_id=self.prompt_id, filters=filters, bucket=bucket, principal=self.principal
            )

    @cached_property
    def chart(self) -> Chart:
        since, until, bucket = self.bounds
        return usage_chart(series=self.result.series, since=since, until=until, bucket=bucket, moves=self.moves)

    @property
    def versions(self):
        return self.result.versions

    @property
    def range_label(self) -> str:
        return RANGES[self.range_key][0]

    @property
    def has_cost(self) -> bool:
        return any(v.cost is not None for v in self.versions)


# ------------------------------------------------------------------------------------------ sparklines
SPARK_WIDTH, SPARK_HEIGHT = 84, 20


@dataclass(frozen=True)
class Sparkline:
    points: str  # an SVG polyline's points
    total: int
    peak: int
    days: int


def sparkline(counts: list[int]) -> Sparkline:
    peak = max(counts, default=0)
    step = SPARK_WIDTH / max(1, len(counts) - 1)
    usable = SPARK_HEIGHT - 2
    points = " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - (c / peak * usable if peak else 0):.1f}" for i, c in enumerate(counts)
    )
    return Sparkline(points=points, total=sum(counts), peak=peak, days=len(counts))


def sparklines(*, prompt_ids: list[str], principal: Principal) -> dict[str, Sparkline]:
    """Requests per day over the last two weeks, for each prompt of a list page (one query)."""
    daily = response_selectors.prompts_daily_requests(prompt_ids=prompt_ids, days=SPARK_DAYS, principal=principal)
    return {prompt_id: sparkline(counts) for prompt_id, counts in daily.items()}
