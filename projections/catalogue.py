"""The projections by name, and which Redis keys and CQL tables each one owns.

A replay can rebuild some projections (`stories replay --projection trays`) and switch only
those; every key kind and table belongs to exactly one projection for that reason.
"""

from __future__ import annotations

__all__ = ["PROJECTIONS", "REDIS_KINDS", "CQL_TABLES", "kinds_of", "tables_of"]

PROJECTIONS: tuple[str, ...] = ("stories", "trays", "graph", "engagement", "highlights")

REDIS_KINDS: dict[str, str] = {
    # active stories, lookups, expiry schedule and claims, deletion tombstones, insight owners
    "a": "stories", "s": "stories", "x": "stories", "xc": "stories", "gone": "stories",
    "o": "stories",
    # trays, what each viewer has seen, the authors merged at read time
    "t": "trays", "ti": "trays", "seen": "trays", "celebs": "trays",
    # follow graph
    "fr": "graph", "fg": "graph", "cf": "graph",
    # counters, reactions, sticker tallies, live channels
    "ve": "engagement", "vv": "engagement", "rp": "engagement", "rx": "engagement",
    "rc": "engagement", "sa": "engagement", "sk": "engagement", "live": "engagement",
}

CQL_TABLES: dict[str, str] = {
    "stories": "stories",
    "followers": "graph", "following": "graph", "close_friends": "graph",
    "story_viewers": "engagement", "sticker_answers": "engagement",
    "highlights": "highlights", "story_highlights": "highlights", "kept_stories": "highlights",
}


def kinds_of(projection: str) -> list[str]:
    return [kind for kind, owner in REDIS_KINDS.items() if owner == projection]


def tables_of(projection: str) -> list[str]:
    return [table for table, owner in CQL_TABLES.items() if owner == projection]
