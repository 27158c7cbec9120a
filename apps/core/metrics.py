"""Prometheus metrics (prometheus-client), off unless `server.metrics.enabled` (`STACKADMIN_METRICS_ENABLED`).

The metrics are declared here, in the leaf app every other app may import; the apps record through the small
functions below, each of which does nothing while metrics are off (one settings lookup), so an installation that
does not scrape pays nothing else. `stackadmin/observability.py` records the HTTP requests and serves `/metrics`.

Several worker processes: `stackadmin run` with metrics on points `PROMETHEUS_MULTIPROC_DIR` at an emptied
directory before any worker starts, so prometheus-client keeps each process's values in memory-mapped files there
and `/metrics`, served by whichever worker, adds them all up. Gauges of things that live in a process (queued writes,
open websockets) are summed over the live processes only (`livesum`); a worker that exits is marked dead
(`mark_worker_dead`) so that its last values stop counting.
"""

from __future__ import annotations

from django.conf import settings

from prometheus_client import Counter, Gauge, Histogram

# Seconds: from a cached read (a millisecond) to a long model answer (a minute).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "stackadmin_http_requests", "HTTP requests answered, by method, route and status.", ["method", "route", "status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "stackadmin_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response body, by method, route and status.",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_SECONDS = Histogram(
    "stackadmin_upstream_request_duration_seconds",
    "Model calls to inference providers (a stream: until its last chunk), by provider and model.",
    ["provider", "model"],
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "stackadmin_upstream_errors",
    "Model calls that failed, by provider, model and error code.",
    ["provider", "model", "code"],
)
WRITE_QUEUE_DEPTH = Gauge(
    "stackadmin_store_write_queue_depth",
    "Writes queued for a SQL store's writer threads and not yet taken (all live processes).",
    ["store"],
    multiprocess_mode="livesum",
)
STORE_COMMIT_SECONDS = Histogram(
    "stackadmin_store_commit_duration_seconds",
    "Time to commit one batch of queued store writes, by store.",
    ["store"],
    buckets=_LATENCY_BUCKETS,
)
KV_ERRORS = Counter("stackadmin_kv_errors", "KV backend operations that failed, by backend type.", ["backend"])
LIVE_UPDATE_CONNECTIONS = Gauge(
    "stackadmin_live_update_connections",
    "Dashboard websockets open for live updates (all live processes).",
    multiprocess_mode="livesum",
)


def enabled() -> bool:
    return settings.STACKADMIN_METRICS_ENABLED


# The labelled children of the request metrics, by (method, route, status): `labels()` costs as much as the
# increment itself (a lock, a validation), and the combinations are few (routes are URL patterns, not paths).
_request_children: dict[tuple[str, str, int], tuple] = {}


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        code = str(status)
        children = _request_children[key] = (
            HTTP_REQUESTS.labels(method, route, code),
            HTTP_REQUEST_SECONDS.labels(method, route, code),
        )
    children[0].inc()
    children[1].observe(seconds)


def upstream_call(provider: str, model: str, seconds: float, error_code: str | None = None) -> None:
    if not enabled():
        return
    UPSTREAM_SECONDS.labels(provider, model).observe(seconds)
    if error_code is not None:
        UPSTREAM_ERRORS.labels(provider, model, error_code).inc()


def write_queue_depth(store: str, depth: int) -> None:
    if enabled():
        WRITE_QUEUE_DEPTH.labels(store).set(depth)


def store_commit(store: str, seconds: float) -> None:
    if enabled():
        STORE_COMMIT_SECONDS.labels(store).observe(seconds)


def kv_error(backend_type: str) -> None:
    if enabled():
        KV_ERRORS.labels(backend_type).inc()


def live_update_connection(delta: int) -> None:
    if enabled():
        LIVE_UPDATE_CONNECTIONS.inc(delta)
