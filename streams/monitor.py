"""The worker's faust Monitor: only what faust itself reads back, nothing per message.

faust's default Monitor keeps statistics for its web views (messages and events by topic,
stream and task, each event's run time, end offsets): a dozen calls, a dict and two clock
reads for every message. The worker serves its own metrics (core.metrics) and never reads
them. What stays is what faust's consumer uses: the time each partition's stream last took an
event (the check that logs a stalled stream) and the committed offsets (one update a commit).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor
from faust.types import TP

__all__ = ["LeanMonitor"]


class LeanMonitor(Monitor):
    """faust's Monitor without its per-message statistics."""

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        """Not counted."""

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> None:
        """Only when the partition's stream last took an event, for the stalled-stream check."""
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        """Not timed."""

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        """Not timed."""

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        """Not kept: the worker measures its lag itself (stories.health)."""
