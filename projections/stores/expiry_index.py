"""The stories' expiry index and the per-story claims of whichever worker emits StoryExpired.

The index is written with the stories (`RedisBatch.put_story`, `drop_story`); this module
reads it and keeps the claims, so the expiry timer never builds a key.

On a cluster the index is one global sorted set (its own slot), touched one command at a
time; each claim is a single key of its story's slot (`xc:{story}`), so claiming, settling
and releasing never span slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "DueExpiry",
    "expiry_member",
    "due_expiries",
    "claim_expiry",
    "settle_expiry",
    "release_expiry",
]

CLAIMED, SETTLED = "1", "done"


@dataclass(frozen=True, slots=True)
class DueExpiry:
    """A story whose expiry time has come."""

    story_id: str
    author_id: str
    expires_at: int


def expiry_member(story_id: str, author_id: str) -> str:
    """A story's member of the index (scored by its expiry time)."""
    return f"{story_id}|{author_id}"


def due_expiries(models: RedisReadModels, now_ms: int, limit: int) -> list[DueExpiry]:
    """Stories whose expiry is at or before `now_ms`, earliest first, at most `limit`."""
    found = cast(list[tuple[bytes, float]], models.client.zrangebyscore(
        models.k(Kind.EXPIRY_INDEX), "-inf", now_ms, 0, limit, withscores=True))
    return [_due(member, expires_at) for member, expires_at in found]


def _due(member: bytes, expires_at: float) -> DueExpiry:
    story_id, author_id = member.decode().split("|", 1)
    return DueExpiry(story_id, author_id, int(expires_at))


def claim_expiry(models: RedisReadModels, story_id: str, lease_ms: int) -> bool:
    """True when this worker may emit the story's StoryExpired: nobody claimed or settled it."""
    return bool(models.client.set(models.k(Kind.EXPIRY_CLAIM, story_id), CLAIMED, nx=True,
                                  px=lease_ms))


def settle_expiry(models: RedisReadModels, story_id: str, keep_ms: int) -> None:
    """The broker has the StoryExpired: no worker emits it again for `keep_ms`."""
    models.client.set(models.k(Kind.EXPIRY_CLAIM, story_id), SETTLED, px=keep_ms)


def release_expiry(models: RedisReadModels, story_id: str) -> None:
    """The StoryExpired was not acknowledged: any worker may claim the story again."""
    models.client.delete(models.k(Kind.EXPIRY_CLAIM, story_id))
