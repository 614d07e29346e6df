"""Errors shared across layers: which failures are the stores' and never an event's fault.

`STORE_ERRORS` are a store that is away or overloaded (connections, timeouts). A store fault
is wider: any error raised by a store client or by the store's configuration - a Redis that
refuses writes (READONLY, NOAUTH, OOM, CROSSSLOT ...), a CQL write that fails or is not
authorised. Neither says anything about the event being folded: it is waited out with
back-off and the event kept, never set aside as bad.
"""

from __future__ import annotations

import redis
from cassandra import DriverException, OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage

__all__ = ["STORE_ERRORS", "STORE_FAULTS", "NOT_STORE_FAULTS", "ReplicasBehind", "is_store_fault"]

class ReplicasBehind(redis.TimeoutError):
    """A connected Redis replica did not acknowledge a flush's writes in time: a slow store,
    so the batch is retried (its writes are idempotent) rather than counted as written."""


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

# Everything a store client raises: Redis replies and connections, the CQL driver's request,
# coordination, authentication and connection errors, and the server's own error messages.
STORE_FAULTS: tuple[type[BaseException], ...] = (
    *STORE_ERRORS,
    redis.RedisError,
    DriverException,
    ErrorMessage,
    ConnectionException,
)


# Raised by the Redis client before anything is sent: a value the fold should not have built.
NOT_STORE_FAULTS: tuple[type[BaseException], ...] = (redis.DataError,)


def is_store_fault(error: BaseException) -> bool:
    """True when `error` comes from a store or its configuration, not from the event itself."""
    return isinstance(error, STORE_FAULTS) and not isinstance(error, NOT_STORE_FAULTS)
