"""What every fold shares: the event shape, the policy knobs, and the rejection of an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Event", "ProjectionPolicy", "ProjectionRejected", "MAX_LIFETIME_MS", "DAY_MS",
           "ttl_seconds"]

Event = tuple[str, dict[str, Any]]
MAX_LIFETIME_MS = 48 * 3600 * 1000
DAY_MS = 86_400_000


class ProjectionRejected(ValueError):
    """An event that is well-formed but impossible against the read models."""


@dataclass(frozen=True)
class ProjectionPolicy:
    """The knobs of the folds."""

    fanout_threshold: int = 10_000
    insights_days: int = 30

    @property
    def insights_ms(self) -> int:
        return self.insights_days * DAY_MS


def ttl_seconds(expires_at_ms: int, now_ms: int) -> int:
    """Whole seconds until an absolute expiry, rounded up (0 once it has passed)."""
    return max(0, (expires_at_ms - now_ms + 999) // 1000)
