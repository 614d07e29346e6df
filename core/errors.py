"""Errors shared across layers: which store failures are worth waiting out."""

from __future__ import annotations

import redis
from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable

__all__ = ["STORE_ERRORS"]

# A store that is away or overloaded: retried with back-off, never a reason to drop an event.
STORE_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    NoHostAvailable,
    OperationTimedOut,
    Unavailable,
    WriteTimeout,
    ReadTimeout,
)
