"""Epoch milliseconds: the one unit of time in events' folds, read models and TTLs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["now_ms", "to_ms", "from_ms"]


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return int(time.time() * 1000)


def to_ms(moment: datetime | int) -> int:
    """Epoch milliseconds of an aware datetime (ints pass through)."""
    if isinstance(moment, int):
        return moment
    return int(moment.timestamp() * 1000)


def from_ms(epoch_ms: int | float) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)
