"""The projections by name, and which Redis keys and CQL tables each one owns.

A replay can rebuild some projections (`stories replay --projection trays`) and switch only
those; every key kind and table belongs to exactly one projection for that reason.
"""

from __future__ import annotations

from projections.stores.keys import Kind

__all__ = ["PROJECTIONS", "REDIS_KINDS", "CQL_TABLES", "kinds_of", "tables_of"]

PROJECTIONS: tuple[str, ...] = ("stories", "trays", "graph", "engagement", "highlights")

REDIS_KINDS: dict[Kind, str] = {
    kind: projection
    for projection, kinds in {
        "stories": (Kind.AUTHOR_STORIES, Kind.AUTHOR_VERSION, Kind.STORY_REF, Kind.EXPIRY_INDEX,
                    Kind.EXPIRY_CLAIM, Kind.DELETED, Kind.INSIGHTS_OWNER, Kind.AUTHOR_INSIGHTS,
                    Kind.AUTHOR_PARTITIONS,                     Kind.FENCE),
        "trays": (Kind.TRAY_ORDER, Kind.TRAY_ENTRIES, Kind.TRAY_VERSIONS, Kind.SEEN,
                  Kind.CELEBRITIES),
        "graph": (Kind.FOLLOWERS, Kind.FOLLOWING, Kind.CLOSE_FRIENDS, Kind.LISTED_BY,
                  Kind.ERASED, Kind.ERASURES),
        "engagement": (Kind.VIEW_EVENTS, Kind.VIEWERS, Kind.REPLIES, Kind.REACTORS,
                       Kind.REACTION_COUNTS, Kind.ANSWERERS, Kind.STICKER_COUNTERS,
                       Kind.ENGAGED, Kind.LIVE_CHANNEL),
    }.items()
    for kind in kinds
}

CQL_TABLES: dict[str, str] = {
    "stories": "stories",
    "followers": "graph", "following": "graph", "close_friends": "graph",
    "story_viewers": "engagement", "sticker_answers": "engagement",
    "highlights": "highlights", "story_highlights": "highlights", "kept_stories": "highlights",
}


def kinds_of(projection: str) -> list[Kind]:
    return [kind for kind, owner in REDIS_KINDS.items() if owner == projection]


def tables_of(projection: str) -> list[str]:
    return [table for table, owner in CQL_TABLES.items() if owner == projection]
