"""Reads the gateway serves, each in a bounded number of Redis round trips.

Each read is written once as a plan: a generator that yields the commands of one pipelined
round trip (method name and arguments) and receives their results. `run` executes a plan
with the sync client, `run_async` with `redis.asyncio`, so the gateway's event loop and the
worker's threads share one definition of every read. The round trips themselves are the
named reads of `projections.stores.redis_reads`, where the key layout lives.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from projections.model import Story, TrayEntry, may_see, tray_entry
from projections.stores.redis_reads import (
    Command,
    Read,
    author_stories_and_follow,
    authors_stories,
    celebrities_among,
    pipelined,
    tray_index,
)
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "TrayItem",
    "read_tray",
    "read_tray_async",
    "visible_stories",
    "visible_stories_async",
    "tray_plan",
    "visible_stories_plan",
    "run",
    "run_async",
]

MAX_TRAY_AUTHORS = 500

Commands = list[Command]
T = TypeVar("T")
Plan = Generator[Commands, list[Any], T]


@dataclass(frozen=True, slots=True)
class TrayItem:
    """One author in a viewer's tray."""

    author_id: str
    latest_story_id: str
    latest_at: int
    has_unseen: bool
    thumbnail_key: str | None
    muted: bool = False
    media_key: bytes | None = None  # the latest story's, wrapped (projections.stores.story_keys)


def run(plan: Plan[T], client: Any) -> T:
    """Execute a read plan with a sync Redis client, one pipeline per round trip."""
    try:
        commands = next(plan)
        while True:
            commands = plan.send(pipelined(client, commands).execute())
    except StopIteration as done:
        return cast(T, done.value)


async def run_async(plan: Plan[T], client: Any) -> T:
    """Execute a read plan with a `redis.asyncio` client, one pipeline per round trip."""
    try:
        commands = next(plan)
        while True:
            commands = plan.send(await pipelined(client, commands).execute())
    except StopIteration as done:
        return cast(T, done.value)


def _round_trip(read: Read[T]) -> Plan[T]:
    """One named read as a round trip of a plan (`yield from`)."""
    return read.answer((yield list(read.commands)))


def tray_plan(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset()
) -> Plan[list[TrayItem]]:
    """The whole (bounded) tray, in at most two round trips on a single node (three on a
    cluster): unseen first, then newest; muted authors last."""
    # Round trip 1, the viewer's keys: the pushed entries, what the viewer watched (bounded by
    # the 49 hours a seen set lives), the followed celebrities (on a cluster the followees).
    index = yield from _round_trip(tray_index(models, viewer_id, MAX_TRAY_AUTHORS))
    entries = {e.author_id: e for e in index.entries if e.expires_at > now_ms}
    # On a cluster: which followees are celebrities (the global celebrity set, one key).
    celebrities = list(index.celebrities or ())
    if index.celebrities is None and index.following:
        celebrities = yield from _round_trip(celebrities_among(models, index.following))
    # Last round trip: big authors are merged at read time instead of pushed at posting (one
    # HVALS per author, each on its author's slot).
    celebrities = celebrities[:MAX_TRAY_AUTHORS]
    if celebrities:
        rows = yield from _round_trip(authors_stories(models, celebrities))
        entries.update(_celebrity_entries(rows, viewer_id, now_ms))
    ordered = list(entries.values())
    if not ordered:
        return []
    # An author is unseen while any of their active stories the viewer may see is unwatched.
    items = [
        TrayItem(e.author_id, e.latest_story_id, e.latest_at,
                 not index.seen.issuperset(e.active_story_ids(now_ms)), e.thumbnail_key,
                 e.author_id in muted, e.media_key)
        for e in ordered
    ]
    items.sort(key=lambda i: (i.muted, not i.has_unseen, -i.latest_at, i.author_id))
    return items


def _celebrity_entries(
    rows: Iterable[list[Story]], viewer_id: str, now_ms: int
) -> Iterable[tuple[str, TrayEntry]]:
    """The entries of followed celebrities, computed like pushed ones."""
    for stories in rows:
        entry = tray_entry(stories, viewer_id, True, now_ms)
        if entry is not None:
            yield entry.author_id, entry



def read_tray(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset()
) -> list[TrayItem]:
    """The viewer's tray (see `tray_plan`), with the models' sync client."""
    return run(tray_plan(models, viewer_id, now_ms, muted), models.client)


async def read_tray_async(
    models: RedisReadModels, client: Any, viewer_id: str, now_ms: int,
    muted: frozenset[str] = frozenset(),
) -> list[TrayItem]:
    """The viewer's tray (see `tray_plan`), with a `redis.asyncio` client."""
    return await run_async(tray_plan(models, viewer_id, now_ms, muted), client)


def visible_stories_plan(
    models: RedisReadModels, viewer_id: str, author_id: str, now_ms: int
) -> Plan[list[Story]]:
    """The author's stories this viewer may see, oldest first (viewing order): one round trip."""
    stories, follows = yield from _round_trip(author_stories_and_follow(models, viewer_id,
                                                                        author_id))
    visible = [s for s in stories if may_see(s, viewer_id, follows, now_ms)]
    return sorted(visible, key=lambda s: (s.posted_at, s.story_id))


def visible_stories(
    models: RedisReadModels, viewer_id: str, author_id: str, now_ms: int
) -> list[Story]:
    """See `visible_stories_plan`, with the models' sync client."""
    return run(visible_stories_plan(models, viewer_id, author_id, now_ms), models.client)


async def visible_stories_async(
    models: RedisReadModels, client: Any, viewer_id: str, author_id: str, now_ms: int
) -> list[Story]:
    """See `visible_stories_plan`, with a `redis.asyncio` client."""
    return await run_async(visible_stories_plan(models, viewer_id, author_id, now_ms), client)
