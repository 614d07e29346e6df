"""Dropping a read-model version's Redis keys, whole or one projection's kinds of them."""

from __future__ import annotations

from collections.abc import Iterable

import redis

from projections.stores.keys import Kind

__all__ = ["drop_version_keys", "drop_kinds"]

UNLINK_BATCH = 5000


def drop_version_keys(client: redis.Redis, prefix: str) -> int:
    """Unlink every key under a version's prefix, a pipeline per few thousand; returns how many."""
    return _unlink_matching(client, f"{prefix}*")


def drop_kinds(client: redis.Redis, prefix: str, kinds: Iterable[Kind]) -> int:
    """Unlink the keys of these kinds under a version's prefix (one projection's part)."""
    removed = 0
    for kind in kinds:
        removed += _unlink_matching(client, f"{prefix}{kind}:*")
        removed += int(client.unlink(f"{prefix}{kind}"))
    return removed


def _unlink_matching(client: redis.Redis, pattern: str) -> int:
    """One UNLINK per key (each touches one slot), sent in pipelines."""
    removed, pipe, pending = 0, client.pipeline(transaction=False), 0
    for key in client.scan_iter(match=pattern, count=UNLINK_BATCH):
        pipe.unlink(key)
        pending += 1
        if pending >= UNLINK_BATCH:
            removed += sum(pipe.execute())
            pending = 0
    if pending:
        removed += sum(pipe.execute())
    return removed
