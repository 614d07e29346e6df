"""How big a reliability run is, and one scenario's line of the report."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Size", "Row"]


@dataclass(frozen=True)
class Size:
    """How much traffic and how many faults a run uses."""

    users: int
    stories: int
    views: int
    kills: int
    seconds: float = 0.0  # how long paced scenarios (the node losses) send their traffic

    @property
    def label(self) -> str:
        return f"{self.views} views, {self.stories} stories, {self.users} users"

    @property
    def endings(self) -> int:
        """Stories that expire, and as many that are deleted, while the scenario runs."""
        return max(2, self.stories // 10)


@dataclass(frozen=True)
class Row:
    """One scenario's outcome, as the report prints it."""

    scenario: str
    load: str
    faults: str
    events_in: int
    reflected: int
    lost: int
    duplicated: int
    leaks: int
    replay_diff: int = 0
    # Reads through a gateway while a node was lost: how many, how many failed, and the longest
    # time without a good answer (None where no gateway was probed).
    gateway_reads: int | None = None
    gateway_errors: int | None = None
    longest_gap_s: float | None = None

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaks or self.replay_diff)
