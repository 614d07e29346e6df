"""Where a replay stands, kept in CQL beside the serving versions so that an interrupted one
(Ctrl-C is cleaned up; kill -9, a lost machine or a deploy is not) can be resumed from any host.

One row per base keyspace (one replay at a time): the version being built, the plan it was
started with, the serving versions it started from, whether it already switched, and the next
offset of every partition. Offsets are saved only after the batch before them was folded and
flushed; folding a batch twice leaves what folding it once left, so resuming from the last save
rebuilds exactly what an uninterrupted replay would have.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cassandra.cluster import Session

__all__ = ["ReplayCheckpoint", "ReplayCheckpoints", "SAVE_EVERY_SECONDS"]

SAVE_EVERY_SECONDS = 1.0
_ROW = "replay"


@dataclass
class ReplayCheckpoint:
    """An unfinished replay."""

    version: int
    projections: tuple[str, ...]
    since: datetime | None
    previous: dict[str, int]  # projection -> version it served when the replay started
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to read
    switched: bool = False
    updated_at: datetime | None = None


class ReplayCheckpoints:
    """The checkpoint row of one base keyspace."""

    def __init__(self, session: Session, base: str):
        self.session = session
        self.table = f"{base}.replay_checkpoint"
        self._saved_at = 0.0
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (name text PRIMARY KEY, version int,"
            " projections list<text>, since timestamp, previous map<text, int>,"
            " positions map<text, bigint>, switched boolean, updated_at timestamp)"
        )

    def load(self) -> ReplayCheckpoint | None:
        row = self.session.execute(f"SELECT * FROM {self.table} WHERE name = %s", (_ROW,)).one()
        if row is None or row.version is None:
            return None
        return ReplayCheckpoint(
            version=row.version,
            projections=tuple(row.projections or ()),
            since=row.since.replace(tzinfo=UTC) if row.since else None,
            previous=dict(row.previous or {}),
            positions={_partition(key): offset for key, offset in (row.positions or {}).items()},
            switched=bool(row.switched),
            updated_at=row.updated_at.replace(tzinfo=UTC) if row.updated_at else None,
        )

    def start(self, checkpoint: ReplayCheckpoint) -> None:
        self.session.execute(
            f"INSERT INTO {self.table} (name, version, projections, since, previous, positions,"
            " switched, updated_at) VALUES (%s, %s, %s, %s, %s, %s, false, toTimestamp(now()))",
            (_ROW, checkpoint.version, list(checkpoint.projections), checkpoint.since,
             checkpoint.previous, _keys(checkpoint.positions)),
        )

    def save(self, positions: dict[tuple[str, int], int], force: bool = False) -> None:
        """The offsets reached, at most once per SAVE_EVERY_SECONDS unless forced."""
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_EVERY_SECONDS:
            return
        self._saved_at = now
        self.session.execute(
            f"UPDATE {self.table} SET positions = %s, updated_at = toTimestamp(now())"
            " WHERE name = %s", (_keys(positions), _ROW))

    def switched(self) -> None:
        self.session.execute(f"UPDATE {self.table} SET switched = true WHERE name = %s", (_ROW,))

    def clear(self) -> None:
        self.session.execute(f"DELETE FROM {self.table} WHERE name = %s", (_ROW,))


def _keys(positions: dict[tuple[str, int], int]) -> dict[str, int]:
    return {f"{topic}:{partition}": offset for (topic, partition), offset in positions.items()}


def _partition(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)
