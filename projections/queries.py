"""Reads the gateway serves, each in a bounded number of Redis round trips."""

from __future__ import annotations

from dataclasses import dataclass

from projections.model import Story, TrayEntry, may_see, tray_entry
from projections.stores.redis_store import RedisReadModels

__all__ = ["TrayItem", "read_tray", "visible_stories"]

MAX_TRAY_AUTHORS = 500


@dataclass(frozen=True, slots=True)
class TrayItem:
    """One author in a viewer's tray."""

    author_id: str
    latest_story_id: str
    latest_at: int
    has_unseen: bool
    thumbnail_key: str | None
    muted: bool = False


def _pushed_entries(models: RedisReadModels, viewer_id: str) -> tuple[list[TrayEntry], list[str]]:
    """Round trip 1: the pushed tray entries and the followed celebrities."""
    pipe = models.client.pipeline(transaction=False)
    pipe.zrevrange(models.k("t", viewer_id), 0, MAX_TRAY_AUTHORS - 1)
    pipe.hgetall(models.k("ti", viewer_id))
    pipe.sinter(models.k("fg", viewer_id), models.k("celebs"))
    authors, raw_entries, celebrities = pipe.execute()
    entries = [
        TrayEntry.from_json(a.decode(), raw_entries[a]) for a in authors if a in raw_entries
    ]
    return entries, sorted(c.decode() for c in celebrities)


def _pulled_entries(
    models: RedisReadModels, viewer_id: str, celebrities: list[str], now_ms: int
) -> list[TrayEntry]:
    """Round trip 2: big authors are merged at read time instead of pushed at posting."""
    if not celebrities:
        return []
    stories = models.authors_stories(celebrities[:MAX_TRAY_AUTHORS])
    found = (tray_entry(s, viewer_id, True, now_ms) for s in stories.values())
    return [entry for entry in found if entry is not None]


def read_tray(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset()
) -> list[TrayItem]:
    """The whole (bounded) tray: unseen first, then newest; muted authors last."""
    pushed, celebrities = _pushed_entries(models, viewer_id)
    entries = {e.author_id: e for e in pushed if e.expires_at > now_ms}
    for entry in _pulled_entries(models, viewer_id, celebrities, now_ms):
        entries[entry.author_id] = entry
    ordered = list(entries.values())
    seen = _seen(models, viewer_id, [e.latest_story_id for e in ordered])
    items = [
        TrayItem(e.author_id, e.latest_story_id, e.latest_at, e.latest_story_id not in seen,
                 e.thumbnail_key, e.author_id in muted)
        for e in ordered
    ]
    items.sort(key=lambda i: (i.muted, not i.has_unseen, -i.latest_at, i.author_id))
    return items


def _seen(models: RedisReadModels, viewer_id: str, story_ids: list[str]) -> set[str]:
    """Round trip 3: which latest stories the viewer has already watched."""
    if not story_ids:
        return set()
    flags = models.client.smismember(models.k("seen", viewer_id), story_ids)
    return {s for s, flag in zip(story_ids, flags, strict=True) if flag}


def visible_stories(
    models: RedisReadModels, viewer_id: str, author_id: str, now_ms: int
) -> list[Story]:
    """The author's stories this viewer may see, oldest first (viewing order)."""
    pipe = models.client.pipeline(transaction=False)
    pipe.hvals(models.k("a", author_id))
    pipe.sismember(models.k("fg", viewer_id), author_id)
    raw, follows = pipe.execute()
    stories = [Story.from_json(v) for v in raw]
    visible = [s for s in stories if may_see(s, viewer_id, bool(follows), now_ms)]
    return sorted(visible, key=lambda s: (s.posted_at, s.story_id))
