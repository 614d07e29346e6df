"""The kinds of Redis keys, by name. Only the stores build keys from them.

The values are the short strings stored in every key (`<prefix><kind>:<id>`); changing one
changes the layout, so they stay as they are and a replay rebuilds into a new version.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Kind", "expiry_owner", "expiry_partition"]


class Kind(StrEnum):
    """One kind of Redis key; the comment names its type and what it is keyed by."""

    # projection "stories"
    AUTHOR_STORIES = "a"  # hash per author: story id -> story JSON
    AUTHOR_VERSION = "av"  # string per author: version of their stories, grows on every change
    STORY_REF = "s"  # string per story: "author|expires_at", lives until expiry
    EXPIRY_INDEX = "x"  # sorted set per lifecycle partition (`p<n>`): "story|author" scored by
    # expiry; the bare key (no owner) is the single index of earlier releases, being drained
    EXPIRY_CLAIM = "xc"  # string per story: which worker emits its StoryExpired
    DELETED = "gone"  # string per story: tombstone that late events cannot undo
    INSIGHTS_OWNER = "o"  # string per story: its author, for the insights window
    AUTHOR_INSIGHTS = "ai"  # set per author: their stories with an insights owner (for erasure)
    AUTHOR_PARTITIONS = "ap"  # hash per author: active story -> its lifecycle partition
    FENCE = "fence"  # string per owner's slot: a write every replica of its node must ack
    # projection "trays"
    TRAY_ORDER = "t"  # sorted set per viewer: author scored by latest story time
    TRAY_ENTRIES = "ti"  # hash per viewer: author -> tray entry JSON
    TRAY_VERSIONS = "tv"  # hash per viewer: author -> version of the stories last written
    SEEN = "seen"  # set per viewer: story ids watched
    CELEBRITIES = "celebs"  # set: authors merged into trays at read time
    # projection "graph"
    FOLLOWERS = "fr"  # set per user: who follows them
    FOLLOWING = "fg"  # set per user: whom they follow
    CLOSE_FRIENDS = "cf"  # set per user
    LISTED_BY = "cfo"  # set per user: whose close-friends lists named them (stale ones stay)
    ERASED = "er"  # string per erased user's pseudonym (the owner): the erasure instant (ms)
    ERASURES = "erl"  # sorted set: every erased user's pseudonym scored by the erasure instant
    # projection "engagement"
    VIEW_EVENTS = "ve"  # set per story: pseudonyms of view events
    VIEWERS = "vv"  # set per story: pseudonyms of viewers
    REPLIES = "rp"  # set per story: pseudonyms of reply events
    REACTORS = "rx"  # hash per story: pseudonym -> "at|emoji"
    REACTION_COUNTS = "rc"  # hash per story: emoji -> count
    ANSWERERS = "sa"  # hash per story: pseudonym of sticker:user -> 1
    STICKER_COUNTERS = "sk"  # hash per story: "sticker:field" -> number
    ENGAGED = "eg"  # set per user: stories they reacted to, "story|sticker" they answered
    LIVE_CHANNEL = "live"  # pub/sub channel per story: its author's live engagement


def expiry_owner(partition: int | None) -> str:
    """The owner part of a lifecycle partition's expiry index (`p3`); "" for the single index of
    earlier releases (None), which has no owner."""
    return "" if partition is None else f"p{partition}"


def expiry_partition(owner: str) -> int | None:
    """The lifecycle partition an expiry index's owner part names (None for the old index)."""
    return int(owner[1:]) if owner else None
