"""Simulated time: what happens next, in order, for a discrete-event simulation."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Handler", "PendingEvent", "Schedule"]

Handler = Callable[[Any], None]


@dataclass(frozen=True)
class PendingEvent:
    """An event decided on earlier, due now: its name, who acts, its fields."""

    name: str
    actor: int
    fields: dict[str, Any]


class Schedule:
    """A queue by simulated time; equal times keep the order they were scheduled in."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[tuple[float, int, Handler | PendingEvent, Any]] = []
        self._sequence = itertools.count()

    def call(self, delay: float, handler: Handler, payload: Any = None) -> None:
        """Run `handler(payload)` when `delay` more seconds of simulated time have passed."""
        heapq.heappush(self._queue, (self.now + delay, next(self._sequence), handler, payload))

    def emit(self, delay: float, name: str, actor: int, **fields: Any) -> None:
        """Put an event into the stream when `delay` more seconds have passed."""
        pending = PendingEvent(name, actor, fields)
        heapq.heappush(self._queue, (self.now + delay, next(self._sequence), pending, None))

    def advance(self) -> PendingEvent | None:
        """Move to the next moment: its due event, or None once its handler has run."""
        self.now, _, due, payload = heapq.heappop(self._queue)
        if isinstance(due, PendingEvent):
            return due
        due(payload)
        return None
