"""What a failing store is to a caller: one 503 (`store_unavailable`) for an outage, SQL or KV alike.

The `/v1` exception handlers map `STORE_OUTAGES` through `reported_error`; a stream that has already started, where
no exception handler can answer any more, ends with the error `reported_error` makes of its failure.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from apps.core.errors import StackAdminError, StoreUnavailableError
from apps.storage.kv import KVBackendError

logger = logging.getLogger("apps.storage")

# A database that cannot be reached or lost its connection (Django's wrappers of every driver's errors), and a KV
# backend whose driver failed: the request may well succeed once the store is back.
STORE_OUTAGES: tuple[type[Exception], ...] = (OperationalError, InterfaceError, KVBackendError)


def reported_error(exc: Exception) -> StackAdminError:
    """The error a caller is told of `exc`: ours as it is, a store outage as a 503, anything else as a 500. The
    cause of the last two is logged, not shown."""
    if isinstance(exc, StackAdminError):
        return exc
    if isinstance(exc, STORE_OUTAGES):
        logger.warning("store unavailable: %s", exc)
        return StoreUnavailableError("A store stackadmin needs is unavailable; retry later.")
    logger.error("unexpected error", exc_info=exc)
    return StackAdminError("The server had an error while processing your request.", code="internal_error")
