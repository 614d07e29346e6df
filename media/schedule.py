"""The media worker's schedule in Redis: when to try each job, who holds it, what highlights keep.

Keys live under `<cql_keyspace>:media:`, outside the read-model versions, so a replay never
drops them. Nothing here is the only copy of anything: the media keyspace knows every
unfinished job, and reconciliation puts lost ones back on the schedule.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import redis

__all__ = ["MediaSchedule", "ReleaseCheck"]

_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


@dataclass(frozen=True)
class ReleaseCheck:
    """A story that left a highlight: is it still held, or can its media go?"""

    story_id: str
    highlight_id: str
    noticed_at: int

    @property
    def member(self) -> str:
        return f"{self.story_id}|{self.highlight_id}|{self.noticed_at}"

    @classmethod
    def parse(cls, member: bytes | str) -> ReleaseCheck:
        text = member.decode() if isinstance(member, bytes) else member
        story_id, highlight_id, noticed = text.split("|")
        return cls(story_id, highlight_id, int(noticed))


class MediaSchedule:
    """Due times of jobs, per-story claims, kept stories by author, pending release checks."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.client = client
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)

    def k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- jobs ----------------------------------------------------------------------------------
    def add(self, story_id: str, due_ms: int) -> None:
        """Schedule a new job; an existing one keeps its due time (and its backoff)."""
        self.client.zadd(self.k("jobs"), {story_id: due_ms}, nx=True)

    def reschedule(self, story_id: str, due_ms: int) -> None:
        """Move a job that is still scheduled; one removed meanwhile stays removed."""
        self.client.zadd(self.k("jobs"), {story_id: due_ms}, xx=True)

    def remove(self, story_id: str) -> None:
        self.client.zrem(self.k("jobs"), story_id)

    def due(self, now_ms: int, limit: int) -> list[str]:
        """Jobs whose time has come, earliest first."""
        found = cast(list[bytes], self.client.zrangebyscore(self.k("jobs"), "-inf", now_ms, 0, limit))
        return [story_id.decode() for story_id in found]

    def scheduled(self, story_id: str) -> bool:
        return self.client.zscore(self.k("jobs"), story_id) is not None

    # -- claims --------------------------------------------------------------------------------
    def claim(self, story_id: str, lease_ms: int) -> str | None:
        """A token if this worker may work on the story for `lease_ms`; None if another does."""
        token = uuid.uuid4().hex
        taken = self.client.set(self.k("claim", story_id), token, nx=True, px=lease_ms)
        return token if taken else None

    def claim_left_ms(self, story_id: str) -> int:
        """How long another worker's claim still runs (0 when there is none)."""
        return max(0, int(self.client.pttl(self.k("claim", story_id))))

    def unclaim(self, story_id: str, token: str) -> None:
        """Give up our claim, never someone else's that followed an expired lease."""
        self._release(keys=[self.k("claim", story_id)], args=[token])

    # -- stories kept by highlights ------------------------------------------------------------
    def keep(self, author_id: str, story_id: str) -> None:
        self.client.sadd(self.k("kept", author_id), story_id)

    def unkeep(self, author_id: str, story_id: str) -> None:
        self.client.srem(self.k("kept", author_id), story_id)

    def kept(self, author_id: str) -> set[str]:
        members = cast(set[bytes], self.client.smembers(self.k("kept", author_id)))
        return {s.decode() for s in members}

    # -- release checks ------------------------------------------------------------------------
    def check_release(self, checks: Iterable[ReleaseCheck], due_ms: int) -> None:
        mapping = {check.member: due_ms for check in checks}
        if mapping:
            self.client.zadd(self.k("releases"), mapping)

    def due_releases(self, now_ms: int, limit: int) -> list[ReleaseCheck]:
        found = cast(list[bytes],
                     self.client.zrangebyscore(self.k("releases"), "-inf", now_ms, 0, limit))
        return [ReleaseCheck.parse(member) for member in found]

    def done_release(self, check: ReleaseCheck) -> None:
        self.client.zrem(self.k("releases"), check.member)

    # -- reconciliation ------------------------------------------------------------------------
    def take_turn(self, name: str, period_ms: int) -> bool:
        """One worker per period runs a periodic chore; the others skip it."""
        return bool(self.client.set(self.k("turn", name), "1", nx=True, px=period_ms))
