"""Named reads of the CQL read models that span partitions, such as a story's viewer buckets.

A hot story's viewers are spread over `VIEWER_BUCKETS` partitions; how a page walks them is
decided here, beside the store that writes them, so readers only name a position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.stores.cql_store import VIEWER_BUCKETS, CqlReadModels

__all__ = ["ViewerRow", "ViewerPosition", "FROM_START", "viewers_page"]

ViewerPosition = tuple[int, str]  # (bucket, last viewer id read in it)
FROM_START: ViewerPosition = (0, "")


@dataclass(frozen=True, slots=True)
class ViewerRow:
    """One viewer of a story: when they first viewed it and their current reaction."""

    bucket: int
    user_id: str
    viewed_at: datetime
    reaction: str | None


def viewers_page(
    models: CqlReadModels, story_id: str, after: ViewerPosition, limit: int
) -> tuple[list[ViewerRow], ViewerPosition | None]:
    """Viewers in (bucket, viewer) order from a position on; the next position when more remain."""
    bucket, after_id = after
    rows: list[ViewerRow] = []
    while bucket < VIEWER_BUCKETS and len(rows) <= limit:
        found = models.viewers_page(story_id, bucket, after_id, limit + 1 - len(rows))
        rows += [ViewerRow(bucket, user, at, reaction) for user, at, reaction in found]
        bucket, after_id = bucket + 1, ""
    page = rows[:limit]
    more = len(rows) > limit
    return page, ((page[-1].bucket, page[-1].user_id) if more else None)
