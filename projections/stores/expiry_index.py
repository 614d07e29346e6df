"""The per-story claims of whichever worker emits StoryExpired, and the entries no fold removes.

The expiry indexes are written with the stories (`RedisBatch.put_story`, `drop_story`), one per
lifecycle partition, and read by `RedisReadModels.due_expiries`; this module keeps the claims,
so the expiry timer never builds a key. Each claim is a single key of its story's slot
(`xc:{story}`), so claiming, settling and releasing never span slots.

The fold removes a story's entry from the index of the partition its StoryExpired is read
from. Two kinds of entries are out of its reach, and the timer takes them out once their
StoryExpired is acknowledged: those of the single index of earlier releases (`x`, no owner),
which nothing writes any more, and those left in another partition's index after the topic's
partition count changed.
"""

from __future__ import annotations

from projections.stores.base import DueExpiry
from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "DueExpiry",
    "claim_expiry",
    "settle_expiry",
    "release_expiry",
    "expiry_settled",
    "forget_expiry",
]

CLAIMED, SETTLED = "1", "done"


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


def expiry_settled(models: RedisReadModels, story_id: str) -> bool:
    """Whether some worker's StoryExpired of the story was acknowledged (within `keep_ms`)."""
    claim = models.client.get(models.k(Kind.EXPIRY_CLAIM, story_id))
    return claim in (SETTLED, SETTLED.encode())


def forget_expiry(models: RedisReadModels, due: DueExpiry) -> None:
    """Take a story whose StoryExpired was acknowledged out of the index it was found in."""
    models.client.zrem(models.expiry_index(due.partition), f"{due.story_id}|{due.author_id}")
