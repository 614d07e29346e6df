"""Events as the simulated world makes them: dated in exact milliseconds, ids from a seed."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas

__all__ = ["Event", "EventMaker", "epoch_ms", "from_epoch_ms"]

Event = tuple[str, dict[str, Any]]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds in integer arithmetic, so a date never drifts by float rounding."""
    return (moment - EPOCH) // MILLISECOND


def from_epoch_ms(at_ms: int) -> datetime:
    """The aware UTC time of epoch milliseconds, exactly."""
    return EPOCH + at_ms * MILLISECOND


class EventMaker:
    """Valid event records whose ids come from a seeded generator: same seed, same ids."""

    def __init__(self, ids: random.Random):
        self.ids = ids

    def new_id(self) -> str:
        """A version-4 UUID drawn from the seed (for events, stories and highlights)."""
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def make(self, name: str, at: datetime | int, actor_id: str, **fields: Any) -> Event:
        """The named event by `actor_id` at `at` (an aware time or epoch milliseconds)."""
        occurred = from_epoch_ms(at) if isinstance(at, int) else at
        record = schemas.new_event(name, actor_id, occurred_at=occurred, event_id=self.new_id(),
                                   **fields)
        return name, record
