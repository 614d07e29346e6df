"""The per-story claims of whichever worker emits StoryExpired, and the drain of the old index.

The expiry indexes are written with the stories (`RedisBatch.put_story`, `drop_story`), one per
lifecycle partition, and read by `RedisReadModels.due_expiries`; this module keeps the claims,
so the expiry timer never builds a key. Each claim is a single key of its story's slot
(`xc:{story}`), so claiming, settling and releasing never span slots.

Releases before the per-partition indexes kept one index (`x`, no owner). Nothing writes it
any more; the timer drains it: it emits what comes due there like from any index, and takes
out what was emitted, so an upgrade loses no expiry.
"""

from __future__ import annotations

from projections.stores.base import LEGACY_EXPIRY_INDEX, DueExpiry
from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "DueExpiry",
    "claim_expiry",
    "settle_expiry",
    "release_expiry",
    "expiry_settled",
    "forget_old_expiry",
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


def forget_old_expiry(models: RedisReadModels, due: DueExpiry) -> None:
    """Take an emitted story out of the old single index (no fold removes it from there)."""
    if due.partition is not LEGACY_EXPIRY_INDEX:
        raise ValueError(f"{due.story_id} is in partition {due.partition}'s index, not the old one")
    models.client.zrem(models.expiry_index(LEGACY_EXPIRY_INDEX), f"{due.story_id}|{due.author_id}")
