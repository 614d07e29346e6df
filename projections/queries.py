"""Reads the gateway serves, each in a bounded number of Redis round trips.

Each read is written once as a plan: a generator that yields the commands of one pipelined
round trip (method name and arguments) and receives their results. `run` executes a plan
with the sync client, `run_async` with `redis.asyncio`, so the gateway's event loop and the
worker's threads share one definition of every read.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from projections.model import Story, TrayEntry, may_see, tray_entry
from projections.stores.keys import Kind
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

Commands = list[tuple[str, tuple[Any, ...]]]
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


def _pipeline(client: Any, commands: Commands) -> Any:
    pipe = client.pipeline(transaction=False)
    for name, args in commands:
        getattr(pipe, name)(*args)
    return pipe


def run(plan: Plan[T], client: Any) -> T:
    """Execute a read plan with a sync Redis client, one pipeline per round trip."""
    try:
        commands = next(plan)
        while True:
            commands = plan.send(_pipeline(client, commands).execute())
    except StopIteration as done:
        return done.value


async def run_async(plan: Plan[T], client: Any) -> T:
    """Execute a read plan with a `redis.asyncio` client, one pipeline per round trip."""
    try:
        commands = next(plan)
        while True:
            commands = plan.send(await _pipeline(client, commands).execute())
    except StopIteration as done:
        return done.value


def tray_plan(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset()
) -> Plan[list[TrayItem]]:
    """The whole (bounded) tray, in at most three round trips: unseen first, then newest;
    muted authors last."""
    k = models.k
    # Round trip 1: the pushed tray entries and the followed celebrities.
    authors, raw_entries, celebrity_ids = yield [
        ("zrevrange", (k(Kind.TRAY_ORDER, viewer_id), 0, MAX_TRAY_AUTHORS - 1)),
        ("hgetall", (k(Kind.TRAY_ENTRIES, viewer_id),)),
        ("sinter", (k(Kind.FOLLOWING, viewer_id), k(Kind.CELEBRITIES))),
    ]
    pushed = (TrayEntry.from_json(a.decode(), raw_entries[a]) for a in authors
              if a in raw_entries)
    entries = {e.author_id: e for e in pushed if e.expires_at > now_ms}
    # Round trip 2: big authors are merged at read time instead of pushed at posting.
    celebrities = sorted(c.decode() for c in celebrity_ids)[:MAX_TRAY_AUTHORS]
    if celebrities:
        rows = yield [("hvals", (k(Kind.AUTHOR_STORIES, author),)) for author in celebrities]
        for row in rows:
            entry = tray_entry((Story.from_json(v) for v in row), viewer_id, True, now_ms)
            if entry is not None:
                entries[entry.author_id] = entry
    ordered = list(entries.values())
    if not ordered:
        return []
    # Round trip 3: which latest stories the viewer has already watched.
    (flags,) = yield [("smismember", (k(Kind.SEEN, viewer_id), [e.latest_story_id for e in ordered]))]
    items = [
        TrayItem(e.author_id, e.latest_story_id, e.latest_at, not seen, e.thumbnail_key,
                 e.author_id in muted)
        for e, seen in zip(ordered, flags, strict=True)
    ]
    items.sort(key=lambda i: (i.muted, not i.has_unseen, -i.latest_at, i.author_id))
    return items


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
    raw, follows = yield [("hvals", (models.k(Kind.AUTHOR_STORIES, author_id),)),
                          ("sismember", (models.k(Kind.FOLLOWING, viewer_id), author_id))]
    stories = [Story.from_json(v) for v in raw]
    visible = [s for s in stories if may_see(s, viewer_id, bool(follows), now_ms)]
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
