"""The reads behind the routes, each a few round trips, with the privacy rules applied.

Anything a caller may not see comes back as None (or is left out), exactly like something
that does not exist, so routes cannot answer the two differently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gateway.models import MAX_HIGHLIGHT_STORIES
from gateway.versions import ServingReadModels
from media.keys import CqlClients, story_media_keys
from projections.folds.highlights import Highlight
from projections.model import REJECTED, Story, may_see
from projections.queries import CelebrityHints, TrayItem, read_tray_async
from projections.stores.base import Counters
from projections.stores.redis_reads import (
    author_stories_among,
    author_stories_and_follow,
    author_story,
    author_story_and_follow,
)
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "story_for",
    "own_story",
    "own_active_story_ids",
    "tray_key",
    "tray_page",
    "StoryInsights",
    "insights_of",
    "fetch_media_keys",
    "may_see_kept",
    "highlights_for",
    "highlight_for",
    "MAX_HIGHLIGHT_STORIES",
    "Page",
    "page_after",
    "story_key",
    "highlight_key",
    "HighlightView",
]

T = TypeVar("T")


def story_for(models: RedisReadModels, viewer_id: str, story_id: str, now: int) -> Story | None:
    """The story if the viewer may see it now (two round trips); None otherwise."""
    ref = models.story_refs([story_id]).get(story_id)
    if ref is None or ref.expires_at <= now:
        return None
    read = author_story_and_follow(models, viewer_id, ref.author_id, story_id)
    story, follows = read.fetch(models.client)
    return story if story is not None and may_see(story, viewer_id, follows, now) else None


def own_story(models: RedisReadModels, author_id: str, story_id: str, now: int) -> Story | None:
    """The caller's own active story, in any status (one round trip); None for anyone else's."""
    story = author_story(models, author_id, story_id).fetch(models.client)
    if story is None:
        return None
    return story if story.author_id == author_id and story.is_active(now) else None


def own_active_story_ids(
    models: RedisReadModels, author_id: str, story_ids: list[str], now: int
) -> set[str]:
    """Which of these are the caller's own live, not rejected stories (one round trip)."""
    if not story_ids:
        return set()
    stories = author_stories_among(models, author_id, story_ids).fetch(models.client)
    return {s.story_id for s in stories if s.is_active(now) and s.status != REJECTED}


def tray_key(item: TrayItem) -> list[Any]:
    """The tray's sort order as a cursor position: muted last, unseen first, newest first."""
    return [item.muted, not item.has_unseen, -item.latest_at, item.author_id]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, the position after it when more remain, and whether the list itself
    was cut at its bound."""

    items: list[T]
    after: list[Any] | None
    truncated: bool = False


def page_after(
    items: list[T], key: Callable[[T], list[Any]], after: list[Any] | None, limit: int
) -> Page[T]:
    """The `limit` items past the position `after` of a list sorted by `key`."""
    if after is not None:
        start = tuple(after)
        items = [item for item in items if tuple(key(item)) > start]
    page = items[:limit]
    return Page(page, key(page[-1]) if len(items) > limit else None)


async def tray_page(
    models: RedisReadModels, client: Any, viewer_id: str, now: int, muted: frozenset[str],
    after: list[Any] | None, limit: int, hints: CelebrityHints | None = None,
) -> Page[TrayItem]:
    """One page of the tray after a position (read with `redis.asyncio` `client`)."""
    tray = await read_tray_async(models, client, viewer_id, now, muted, hints)
    page = page_after(tray.items, tray_key, after, limit)
    return Page(page.items, page.after, tray.truncated)


def story_key(story: Story) -> list[Any]:
    """An author's stories in viewing order as a cursor position: oldest first."""
    return [story.posted_at, story.story_id]


@dataclass(frozen=True, slots=True)
class StoryInsights:
    story_id: str
    counters: Counters
    stickers: tuple[dict[str, Any], ...] | None  # definitions, when still known


def insights_of(
    models: ServingReadModels, author_id: str, story_id: str, now: int
) -> StoryInsights | None:
    """Counts of the caller's story while its insights last (after expiry too); else None."""
    redis = models.redis
    if redis.insights_owner(story_id) != author_id:
        return None
    counters = redis.counters(story_id)
    story = own_story(redis, author_id, story_id, now)
    if story is None:
        story = models.cql.kept_stories([story_id]).get(story_id)
    return StoryInsights(story_id, counters, story.stickers if story else None)


def fetch_media_keys(clients: CqlClients, story_ids: Iterable[str]) -> dict[str, bytes]:
    """Keys of these media stories that have one (one concurrent CQL round)."""
    wanted = list(dict.fromkeys(story_ids))
    return story_media_keys(clients, wanted) if wanted else {}


def may_see_kept(story: Story, viewer_id: str, follows_author: bool) -> bool:
    """The audience rule for a story a highlight keeps past its expiry: expiry is ignored."""
    return may_see(story, viewer_id, follows_author, story.expires_at - 1)


@dataclass(frozen=True, slots=True)
class HighlightView:
    """A highlight with the stories one viewer may see, and whether its stories were cut."""

    highlight: Highlight
    stories: list[Story]
    stories_truncated: bool


def highlight_key(view: HighlightView) -> list[Any]:
    """The owner's highlights in creation order as a cursor position."""
    return [view.highlight.created_at, view.highlight.highlight_id]


def highlights_for(
    models: ServingReadModels, viewer_id: str, owner_id: str, now: int,
    after: list[Any] | None, limit: int,
) -> Page[HighlightView]:
    """A page of the owner's highlights with the stories this viewer may see (at most
    MAX_HIGHLIGHT_STORIES each); others see no empty ones."""
    highlights = models.cql.highlights_of(owner_id)
    if after is not None:
        start = tuple(after)
        highlights = [h for h in highlights if (h.created_at, h.highlight_id) > start]
    return _visible_page(models, viewer_id, owner_id, highlights, now, limit)


def highlight_for(
    models: ServingReadModels, viewer_id: str, owner_id: str, highlight_id: str, now: int
) -> HighlightView | None:
    """One highlight as `highlights_for` lists it; None when missing or empty to this viewer."""
    highlight = models.cql.highlight(owner_id, highlight_id)
    found = _visible_page(models, viewer_id, owner_id, [highlight] if highlight else [], now, 1)
    return found.items[0] if found.items else None


def _visible_page(
    models: ServingReadModels, viewer_id: str, owner_id: str, highlights: list[Highlight],
    now: int, limit: int,
) -> Page[HighlightView]:
    if not highlights:
        return Page([], None)
    live, follows = _live_stories_and_follow(models.redis, viewer_id, owner_id, now)
    views: list[HighlightView] = []
    # Read kept stories a page at a time: empty highlights are skipped for others, so a page
    # may need several reads to fill.
    for offset in range(0, len(highlights), limit):
        chunk = highlights[offset:offset + limit]
        wanted = {s for h in chunk for s in h.story_ids[:MAX_HIGHLIGHT_STORIES]}
        kept = models.cql.kept_stories(sorted(wanted - live.keys()))
        for highlight in chunk:
            stories = [
                story for story_id in highlight.story_ids[:MAX_HIGHLIGHT_STORIES]
                if (story := _visible_member(story_id, live, kept, viewer_id, follows, now))
            ]
            if stories or viewer_id == owner_id:
                views.append(HighlightView(highlight, stories,
                                           len(highlight.story_ids) > MAX_HIGHLIGHT_STORIES))
        if len(views) > limit:
            break
    return page_after(views, highlight_key, None, limit)


def _live_stories_and_follow(
    models: RedisReadModels, viewer_id: str, owner_id: str, now: int
) -> tuple[dict[str, Story], bool]:
    stories, follows = author_stories_and_follow(models, viewer_id, owner_id).fetch(models.client)
    return {s.story_id: s for s in stories if s.is_active(now)}, follows


def _visible_member(
    story_id: str, live: dict[str, Story], kept: dict[str, Story], viewer_id: str,
    follows: bool, now: int,
) -> Story | None:
    if story_id in live:
        active = live[story_id]
        return active if may_see(active, viewer_id, follows, now) else None
    story = kept.get(story_id)
    return story if story is not None and may_see_kept(story, viewer_id, follows) else None
