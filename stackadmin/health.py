"""Readiness (`GET /v1/health/ready`): does every backend this server's run config names answer right now?

Checked, each on a fresh connection with a timeout of `PROBE_TIMEOUT_SECONDS`, all at once (so a probe answers in
about that long even when several backends hang):

- `storage.backends.<name>`: every backend a store uses (SQL stores, KV stores), as `stackadmin run` checks them at
  start (`apps.storage.probes`);
- `server.channel_layer`: the Redis that carries live updates between processes, when configured;
- `files.storage`: the bucket (a HEAD request) or the local storage directory (writable).

`/v1/health` stays the liveness check: it answers from the process alone, whatever the backends do, so a load
balancer or an orchestrator does not restart a healthy process because a shared database is down.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from django.conf import settings

from apps.files.blobs import BlobStoreUnavailable, blob_store
from apps.storage.probes import BackendDown, probe_backend, probe_redis
from stackadmin.config import RunConfig, channel_layer_backend, used_backends

PROBE_TIMEOUT_SECONDS = 2.0
# A probe whose library ignores its own timeout (a DNS lookup, say) is abandoned this much later.
_GRACE_SECONDS = 1.0


def readiness_checks(config: RunConfig) -> dict[str, tuple[str, Callable[[], None]]]:
    """What to check, by the run-config path that names it: (the backend type, the probe)."""
    checks: dict[str, tuple[str, Callable[[], None]]] = {
        f"storage.backends.{name}": (
            backend.type,
            functools.partial(probe_backend, backend, timeout=PROBE_TIMEOUT_SECONDS),
        )
        for name, backend in used_backends(config).items()
    }
    layer = channel_layer_backend(config)
    if layer is not None:
        checks["server.channel_layer"] = (
            "kv_redis",
            functools.partial(probe_redis, layer, timeout=PROBE_TIMEOUT_SECONDS),
        )
    checks["files.storage"] = (
        config.files.storage.type,
        lambda: blob_store().check(timeout=PROBE_TIMEOUT_SECONDS),
    )
    return checks


async def _outcome(probe: Callable[[], None]) -> str | None:
    """None when the probe passed, else one line saying why not."""
    try:
        await asyncio.wait_for(asyncio.to_thread(probe), PROBE_TIMEOUT_SECONDS + _GRACE_SECONDS)
    except (BackendDown, BlobStoreUnavailable) as exc:
        return str(exc)
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT_SECONDS + _GRACE_SECONDS:g} s"
    return None


async def readiness() -> dict[str, dict[str, str]]:
    """Every check's outcome: `{path: {"type": ..., "status": "ok"}}` or `{..., "status": "failed", "error": ...}`."""
    checks = readiness_checks(settings.STACKADMIN_RUN_CONFIG)
    outcomes = await asyncio.gather(*(_outcome(probe) for _, probe in checks.values()))
    report: dict[str, dict[str, str]] = {}
    for (path, (kind, _)), error in zip(checks.items(), outcomes, strict=True):
        report[path] = (
            {"type": kind, "status": "ok"} if error is None else {"type": kind, "status": "failed", "error": error}
        )
    return report
