"""Usage of prompt versions, computed from stored responses in the database.

Counts, token sums, the last use, the labels at use and the time series are summed from the hourly rollup
(`PromptUsageHour`, kept by the database's triggers in the transaction that writes each response): a month of one
prompt is some thousand rollup rows, whatever the traffic. A range that does not start or end on a whole hour
takes its partial hours from the responses themselves. Stored chat completions that name the prompt in their
metadata count too (aggregated from their own rows: they have no rollup). Percentiles (nearest rank, ceil(p * n))
need the values themselves: one statement over the responses (and chat completions) in the range, on the covering
index `responses_prompt_usage_idx`: PostgreSQL's `percentile_disc`, or on SQLite a window function ranking each
column per version, of which only the rows at the wanted ranks (known from the totals' counts) are read back.
Nothing reads all the rows into Python.

An access policy that names single responses (`response::<id>`, a regex on ids) cannot be applied to a rollup row,
which stands for many responses: for such a caller every figure is aggregated from the responses themselves.

Only responses the caller may read count (the access policy's filter is part of every statement), of a prompt
the caller may read (else a 404, exactly as reading the prompt). Runs from the dashboard's playground are left
out unless asked for.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property

from django.core.cache import cache
from django.db import connections
from django.db.models import Count, F, Func, IntegerField, Max, Q, QuerySet, Sum

from apps.core.access import read_predicate
from apps.core.errors import BadRequestError
from apps.core.policy import Pred, to_q
from apps.core.principal import ANONYMOUS, Principal
from apps.inference.selectors import chat_completions_with_prompts
from apps.prompts import selectors as prompt_selectors
from apps.responses.config import usage_config
from apps.responses.models import PromptUsageHour, ResponseOrigin, ResponseStatus, StoredResponse

HOUR = 3600
BUCKET_SECONDS = {"hour": HOUR, "day": 86400}
MAX_BUCKETS = 2000  # a series longer than this is refused: ask for days instead of hours, or a shorter range
# The columns whose percentiles are reported, and which percentiles.
PERCENTILES = {
    "latency_ms": (50, 95),
    "first_token_ms": (50, 95),
    "input_tokens": (50,),
    "output_tokens": (50,),
    "reasoning_tokens": (50,),
}


@dataclass(frozen=True)
class UsageFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    label: str | None = None  # only responses made while this label pointed at the version used
    include_playground: bool = False

    def check(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise BadRequestError("Invalid value for 'until': must be after 'since'.", param="until")
        if self.label is not None:
            prompt_selectors.validate_label(self.label)


@dataclass
class VersionUsage:
    version: int
    requests: int = 0  # stored responses and chat completions made with the version
    chat_completions: int = 0  # how many of `requests` are chat completions
    errors: int = 0  # failed responses
    incomplete: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    percentiles: dict[str, int | None] = field(default_factory=dict)  # e.g. latency_ms_p50
    last_used_at: datetime | None = None
    labels: list[str] = field(default_factory=list)  # every label that pointed at the version when it was used
    cost: float | None = None  # from the run config's prices; None when a model used has no price

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def incomplete_rate(self) -> float:
        return self.incomplete / self.requests if self.requests else 0.0

    def __getattr__(self, name: str):
        # `latency_ms_p50` and friends, for templates.
        percentiles = self.__dict__.get("percentiles", {})
        if name in percentiles:
            return percentiles[name]
        raise AttributeError(name)

    def as_api(self) -> dict:
        return {
            "version": self.version,
            "requests": self.requests,
            "chat_completions": self.chat_completions,
            "errors": self.errors,
            "incomplete": self.incomplete,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            **{name: self.percentiles.get(name) for name in percentile_names()},
            "last_used_at": int(self.last_used_at.timestamp()) if self.last_used_at else None,
            "labels": self.labels,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime
    version: int
    requests: int
    errors: int

    def as_api(self) -> dict:
        return {
            "start": int(self.start.timestamp()),
            "version": self.version,
            "requests": self.requests,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class PromptUsage:
    prompt_id: str
    filters: UsageFilter
    bucket: str
    versions: list[VersionUsage]  # newest version first; only versions used in the range
    series: list[SeriesPoint]  # by time, then version

    @property
    def requests(self) -> int:
        return sum(v.requests for v in self.versions)

    def as_api(self) -> dict:
        return {
            "object": "prompt.usage",
            "prompt_id": self.prompt_id,
            "since": _unix(self.filters.since),
            "until": _unix(self.filters.until),
            "label": self.filters.label,
            "bucket": self.bucket,
            "versions": [v.as_api() for v in self.versions],
            "series": [p.as_api() for p in self.series],
        }


def percentile_names() -> list[str]:
    return [f"{column}_p{p}" for column, points in PERCENTILES.items() for p in points]


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


# ------------------------------------------------------------------------------------------ queries
class EpochBucket(Func):
    """The number of the UTC hour or day a time falls in (Unix seconds // `seconds`), computed by the database's
    own date functions: Django's TruncHour/TruncDay run a Python function per row on SQLite, which costs seconds
    over a million rows."""

    output_field = IntegerField()

    def __init__(self, expression, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {sql}) / {self.seconds}) AS INTEGER)", params

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(CAST(strftime('%%s', {sql}) AS INTEGER) / {self.seconds})", params


def _bucket_start(number: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(number * seconds, UTC)


def usage_rows(*, prompt_ids: list[str], filters: UsageFilter, principal: Principal) -> QuerySet[StoredResponse]:
    """The stored responses made with these prompts that `principal` may read, within `filters`."""
    rows = StoredResponse.objects.visible_to(principal).filter(prompt_id__in=prompt_ids)
    if filters.since is not None:
        rows = rows.filter(created_at__gte=filters.since)
    if filters.until is not None:
        rows = rows.filter(created_at__lt=filters.until)
    if filters.label is not None:
        rows = rows.filter(prompt_labels__contains=f"|{filters.label}|")
    if not filters.include_playground:
        rows = rows.exclude(origin=ResponseOrigin.PLAYGROUND)
    return rows


def _totals(rows: QuerySet) -> list[dict]:
    """Per version, model (prices are per model) and labels at use, from responses (or chat completions):
    counts, token sums, the last use, and how many have each percentile column."""
    return list(
        rows.values("prompt_version", "model", "prompt_labels")
        .annotate(
            requests=Count("pk"),
            errors=Count("pk", filter=Q(status=ResponseStatus.FAILED)),
            incomplete=Count("pk", filter=Q(status=ResponseStatus.INCOMPLETE)),
            input_sum=Sum("input_tokens"),
            output_sum=Sum("output_tokens"),
            reasoning_sum=Sum("reasoning_tokens"),
            last_used=Max("created_at"),
            **{f"{column}_count": Count(column) for column in PERCENTILES},
        )
        .order_by()
    )


def _rollup_totals(hours: QuerySet) -> list[dict]:
    """`_totals`, summed from rollup rows."""
    return list(
        hours.values("prompt_version", "model", "prompt_labels")
        .annotate(
            requests=Sum("requests"),
            errors=Sum("errors"),
            incomplete=Sum("incomplete"),
            input_sum=Sum("input_tokens"),
            output_sum=Sum("output_tokens"),
            reasoning_sum=Sum("reasoning_tokens"),
            last_used=Max("last_used_at"),
            **{f"{column}_count": Sum(f"{column}_count") for column in PERCENTILES},
        )
        .order_by()
    )


def _percentiles(sources: list[QuerySet], counts: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
    """{version: {"<column>_p<p>": value}} for every column of PERCENTILES, in one statement over the rows of
    `sources` together (querysets on one database: responses, and chat completions made with the prompt)."""
    if connections[sources[0].db].vendor == "postgresql":
        return _percentiles_ordered_set(sources)
    return _percentiles_ranked(sources, counts)


def _union_sql(sources: list[QuerySet], columns: list[str], params: list) -> str:
    """The rows of `sources` as one relation of (prompt_version, *columns); their parameters added to `params`."""
    parts = []
    for rows in sources:
        values = rows.values_list("prompt_version", *columns).order_by()
        sql, part_params = values.query.get_compiler(using=values.db).as_sql()
        parts.append(f"SELECT * FROM ({sql}) part{len(parts)}")
        params += part_params
    return " UNION ALL ".join(parts)


def _percentiles_ordered_set(sources: list[QuerySet]) -> dict[int, dict[str, int]]:
    """PostgreSQL's ordered-set aggregate `percentile_disc(p)`: the first value whose position in the order
    reaches p * n, i.e. the nearest rank ceil(p * n) (NULLs left out), every column in one GROUP BY. It sorts in
    C what the window functions rank row by row: a month of one prompt (10,000 responses) in about 6 ms instead
    of 20 (bench/prompt_usage.py)."""
    params: list = []
    aggregates = ", ".join(
        f"percentile_disc(ARRAY[{', '.join(str(p / 100) for p in points)}]::float8[]) WITHIN GROUP (ORDER BY {column})"
        for column, points in PERCENTILES.items()
    )
    statement = f"SELECT prompt_version, {aggregates} FROM ({_union_sql(sources, list(PERCENTILES), params)}) used "
    statement += "GROUP BY prompt_version"
    with connections[sources[0].db].cursor() as cursor:
        cursor.execute(statement, params)
        found = cursor.fetchall()
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for version, *arrays in found:
        for (column, points), values in zip(PERCENTILES.items(), arrays, strict=True):
            for p, value in zip(points, values or [None] * len(points), strict=True):
                if value is not None:
                    out[version][f"{column}_p{p}"] = value
    return out


def _percentiles_ranked(sources: list[QuerySet], counts: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
    """The same with window functions (SQLite has no ordered-set aggregates).

    Per column, each version's values are ranked (a window function over that column alone, NULLs left out) and
    only the rows standing at a wanted rank are kept: a few per version and column, read back as
    (column, version, value, rank). `counts` ({version: {column: values}}) gives the wanted ranks, the nearest
    rank ceil(p * n / 100). One narrow ranking per column, joined by UNION ALL, costs SQLite about a fifth less
    than five windows over the same wide rows (bench/prompt_usage.py)."""
    branches, params = [], []
    for index, column in enumerate(PERCENTILES):
        ranks = {
            version: sorted({(per_column[column] * p + 99) // 100 for p in PERCENTILES[column]})
            for version, per_column in counts.items()
            if per_column.get(column)
        }
        if not ranks:
            continue
        present = [rows.filter(**{f"{column}__isnull": False}) for rows in sources]
        union = _union_sql(present, [column], params)
        wanted = " OR ".join(
            f"(prompt_version = {int(version)} AND rank IN ({', '.join(str(int(r)) for r in numbers)}))"
            for version, numbers in ranks.items()
        )
        branches.append(
            f"SELECT {index} AS col, prompt_version, value, rank FROM (SELECT prompt_version, {column} AS value, "
            f"ROW_NUMBER() OVER (PARTITION BY prompt_version ORDER BY {column}) AS rank "
            f"FROM ({union}) used) ranked WHERE {wanted}"
        )
    if not branches:
        return {}
    with connections[sources[0].db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        found = cursor.fetchall()
    columns = list(PERCENTILES)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for index, version, value, rank in found:
        column = columns[index]
        n = counts[version][column]
        for p in PERCENTILES[column]:
            if rank == (n * p + 99) // 100:
                out[version][f"{column}_p{p}"] = value
    return out


def _cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    price = usage_config().prices.get(model)
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def _add(usage: VersionUsage, row: dict) -> None:
    usage.requests += row["requests"]
    usage.errors += row["errors"]
    usage.incomplete += row["incomplete"]
    usage.input_tokens += row["input_sum"] or 0
    usage.output_tokens += row["output_sum"] or 0
    usage.reasoning_tokens += row["reasoning_sum"] or 0
    usage.last_used_at = max(filter(None, (usage.last_used_at, row["last_used"])))
    cost = _cost(row["model"], row["input_sum"] or 0, row["output_sum"] or 0)
    usage.cost = usage.cost + cost if cost is not None and usage.cost is not None else None
    usage.labels = sorted({*usage.labels, *(t for t in row["prompt_labels"].split("|") if t)})


def _versions(source: UsageSource) -> list[VersionUsage]:
    """Every version used, with its figures: the totals of responses and chat completions, then the percentiles
    of both ranked together (responses only when chat completions are stored on another database)."""
    by_version: dict[int, VersionUsage] = {}
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    chat = source.chat_totals
    ranked_together = bool(chat) and source.chat.db == source.rows.db
    for row, is_chat in [*((r, False) for r in source.totals()), *((r, True) for r in chat)]:
        version = row["prompt_version"]
        usage = by_version.setdefault(version, VersionUsage(version=version, cost=0.0))
        _add(usage, row)
        if is_chat:
            usage.chat_completions += row["requests"]
        if ranked_together or not is_chat:
            for column in PERCENTILES:
                counts[version][column] += row[f"{column}_count"] or 0
    if not by_version:
        return []
    sources = [source.rows, source.chat] if ranked_together else [source.rows]
    for version, values in _percentiles(sources, counts).items():
        by_version[version].percentiles.update(values)
    for usage in by_version.values():
        usage.percentiles = {name: usage.percentiles.get(name) for name in percentile_names()}
    return sorted(by_version.values(), key=lambda v: v.version, reverse=True)


def _series(rows: QuerySet, bucket: str) -> list[SeriesPoint]:
    seconds = BUCKET_SECONDS[bucket]
    grouped = (
        rows.annotate(number=EpochBucket("created_at", seconds))
        .values("number", "prompt_version")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status=ResponseStatus.FAILED)))
        .order_by("number", "prompt_version")
    )
    return [
        SeriesPoint(_bucket_start(g["number"], seconds), g["prompt_version"], g["requests"], g["errors"])
        for g in grouped
    ]


def _rollup_series(hours: QuerySet, bucket: str) -> list[SeriesPoint]:
    per = BUCKET_SECONDS[bucket] // HOUR
    grouped = (
        hours.annotate(number=F("hour") / per)
        .values("number", "prompt_version")
        .annotate(requests=Sum("requests"), errors=Sum("errors"))
        .order_by("number", "prompt_version")
    )
    seconds = BUCKET_SECONDS[bucket]
    return [
        SeriesPoint(_bucket_start(g["number"], seconds), g["prompt_version"], g["requests"], g["errors"])
        for g in grouped
    ]


def _merge_series(*parts: list[SeriesPoint]) -> list[SeriesPoint]:
    merged: dict[tuple[datetime, int], SeriesPoint] = {}
    for point in (p for part in parts for p in part):
        key = (point.start, point.version)
        if key in merged:
            before = merged[key]
            point = replace(point, requests=before.requests + point.requests, errors=before.errors + point.errors)
        merged[key] = point
    return [merged[key] for key in sorted(merged)]


def _names_responses(predicate: Pred) -> bool:
    """Whether a compiled policy decides by a response's id (which a rollup row does not have)."""
    if predicate.op in ("id_is", "id_matches"):
        return True
    return predicate.op in ("not", "and", "or") and any(_names_responses(p) for p in predicate.args)


def _whole_hours(filters: UsageFilter) -> tuple[int | None, int | None] | None:
    """The whole hours (first, end) inside the range (None for an open end), or None when it holds none."""
    first = -(-int(filters.since.timestamp()) // HOUR) if filters.since is not None else None
    end = int(filters.until.timestamp()) // HOUR if filters.until is not None else None
    if first is not None and end is not None and first >= end:
        return None
    return first, end


@dataclass
class UsageSource:
    """Where a range's figures come from: the rollup for its whole hours and the responses for the rest (the
    partial hours at its ends; everything when the caller's policy names single responses), and the chat
    completions made with the prompt."""

    rows: QuerySet  # every response in the range: what percentiles rank
    chat: QuerySet  # every chat completion made with the prompt in the range
    hours: QuerySet | None = None  # rollup rows of the whole hours (None: read the responses for everything)
    rest: QuerySet | None = None  # responses in the partial hours at the ends, if any

    @classmethod
    def of(cls, *, prompt_ids: list[str], filters: UsageFilter, principal: Principal) -> UsageSource:
        rows = usage_rows(prompt_ids=prompt_ids, filters=filters, principal=principal)
        chat = chat_completions_with_prompts(
            prompt_ids=prompt_ids, since=filters.since, until=filters.until, label=filters.label, principal=principal
        )
        predicate = read_predicate(principal, "response")
        span = _whole_hours(filters)
        if span is None or _names_responses(predicate):
            return cls(rows=rows, chat=chat)
        first, end = span
        hours = PromptUsageHour.objects.filter(prompt_id__in=prompt_ids, requests__gt=0)
        hours = hours.filter(to_q(predicate, id_field="id"))
        edges = []
        if first is not None:
            hours = hours.filter(hour__gte=first)
            if first * HOUR != filters.since.timestamp():
                edges.append(Q(created_at__lt=datetime.fromtimestamp(first * HOUR, UTC)))
        if end is not None:
            hours = hours.filter(hour__lt=end)
            if end * HOUR != filters.until.timestamp():
                edges.append(Q(created_at__gte=datetime.fromtimestamp(end * HOUR, UTC)))
        if filters.label is not None:
            hours = hours.filter(prompt_labels__contains=f"|{filters.label}|")
        if not filters.include_playground:
            hours = hours.exclude(origin=ResponseOrigin.PLAYGROUND)
        rest = rows.filter(functools.reduce(operator.or_, edges)) if edges else None
        return cls(rows=rows, chat=chat, hours=hours, rest=rest)

    def totals(self) -> list[dict]:
        if self.hours is None:
            return _totals(self.rows)
        return _rollup_totals(self.hours) + (_totals(self.rest) if self.rest is not None else [])

    @cached_property
    def chat_totals(self) -> list[dict]:
        return _totals(self.chat)

    def series(self, bucket: str) -> list[SeriesPoint]:
        parts = [_series(self.chat, bucket)] if self.chat_totals else []
        if self.hours is None:
            parts.append(_series(self.rows, bucket))
        else:
            parts.append(_rollup_series(self.hours, bucket))
            if self.rest is not None:
                parts.append(_series(self.rest, bucket))
        return _merge_series(*parts)


def default_bucket(filters: UsageFilter) -> str:
    """Hours for a range of up to two days, else days."""
    if filters.since is None:
        return "day"
    end = filters.until or datetime.now(UTC)
    return "hour" if end - filters.since <= timedelta(days=2) else "day"


def _check_bucket(filters: UsageFilter, bucket: str) -> None:
    if bucket not in BUCKET_SECONDS:
        raise BadRequestError("Invalid value for 'bucket': must be 'hour' or 'day'.", param="bucket")
    if filters.since is not None:
        end = filters.until or datetime.now(UTC)
        if (end - filters.since).total_seconds() / BUCKET_SECONDS[bucket] > MAX_BUCKETS:
            raise BadRequestError(
                f"The range holds more than {MAX_BUCKETS} {bucket}s; use a shorter range or bucket=day.",
                param="bucket",
            )


def prompt_usage(
    *,
    prompt_id: str,
    filters: UsageFilter = UsageFilter(),
    bucket: str | None = None,
    principal: Principal = ANONYMOUS,
) -> PromptUsage:
    """Usage per version of a prompt the caller may read (a 404 otherwise, as reading it), and requests per
    hour or day by version."""
    filters.check()
    bucket = bucket or default_bucket(filters)
    _check_bucket(filters, bucket)
    prompt_selectors.prompt_get(prompt_id=prompt_id, principal=principal)  # 404 unless it exists and is visible
    source = UsageSource.of(prompt_ids=[prompt_id], filters=filters, principal=principal)
    return PromptUsage(
        prompt_id=prompt_id, filters=filters, bucket=bucket, versions=_versions(source), series=source.series(bucket)
    )


DAILY_CACHE_SECONDS = 3600  # how long a finished day's count may be shown after a response of it is deleted


def _visibility(principal: Principal) -> str:
    """What decides which responses a caller sees: everything, or their name and attributes."""
    if read_predicate(principal, "response").op == "true":
        return "all"
    who = f"{principal.name}|{sorted((principal.attributes or {}).items())}"
    return hashlib.sha256(who.encode()).hexdigest()[:32]  # cache keys take no spaces or arbitrary characters


def _daily_counts(rows: QuerySet, starts: list[datetime]) -> dict[str, list[int]]:
    """Requests per day (between consecutive `starts`) per prompt, in one statement grouped by prompt only, with
    one conditional count per day: the rows are read in the index's (prompt, time) order and nothing is computed
    per row but comparisons."""
    per_day = {
        f"day{i}": Count("pk", filter=Q(created_at__gte=starts[i], created_at__lt=starts[i + 1]))
        for i in range(len(starts) - 1)
    }
    grouped = rows.filter(created_at__gte=starts[0], created_at__lt=starts[-1]).values("prompt_id")
    return {row["prompt_id"]: [row[name] for name in per_day] for row in grouped.annotate(**per_day).order_by()}


def prompts_daily_requests(
    *, prompt_ids: list[str], days: int = 14, principal: Principal = ANONYMOUS, now: datetime | None = None
) -> dict[str, list[int]]:
    """Requests (responses and chat completions) per day over the last `days` days (oldest first, today last) for
    each of these prompts (the caller has read them already): the list page's sparklines.

    Finished days do not change (a response is stored with the time it was asked for), so their counts are kept in
    Django's cache for an hour (per prompt, window and what the caller may see); each list page then counts only
    today's responses, and the finished days of prompts it has not counted yet."""
    if not prompt_ids:
        return {}
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [today - timedelta(days=days - 1 - i) for i in range(days + 1)]
    rows = usage_rows(prompt_ids=prompt_ids, filters=UsageFilter(), principal=principal)
    # One entry per prompt: its finished days of this window (the window moves at midnight, and so does the key).
    prefix = f"stackadmin:usage-daily:{rows.db}:{_visibility(principal)}:{days}:{today:%Y%m%d}"
    keys = {p: f"{prefix}:{p}" for p in prompt_ids}
    got = cache.get_many(keys.values())
    cached = {p: got[k] for p, k in keys.items() if k in got}
    missing = [p for p in prompt_ids if p not in cached]
    if missing:
        counted = _daily_counts(rows.filter(prompt_id__in=missing), starts[:-1])
        fresh = {p: counted.get(p, [0] * (days - 1)) for p in missing}
        cache.set_many({keys[p]: value for p, value in fresh.items()}, timeout=DAILY_CACHE_SECONDS)
        cached.update(fresh)
    today_counts = _daily_counts(rows, starts[-2:])
    # Chat completions made with these prompts, every day of the window in one statement (their partial index
    # holds only completions made with a prompt, so this reads little and is not worth a cache).
    chat = chat_completions_with_prompts(prompt_ids=prompt_ids, since=starts[0], principal=principal)
    chat_counts = _daily_counts(chat, starts)
    return {
        p: [a + b for a, b in zip([*cached[p], *today_counts.get(p, [0])], chat_counts.get(p, [0] * days), strict=True)]
        for p in prompt_ids
    }
