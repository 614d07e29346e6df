"""Reads the gateway serves, each in a bounded number of Redis round trips.

Each read is written once as a plan: a generator that yields the commands of one pipelined
round trip (method name and arguments) and receives their results. `run` executes a plan
with the sync client, `run_async` with `redis.asyncio`, so the gateway's event loop and the
worker's threads share one definition of every read. The round trips themselves are the
named reads of `projections.stores.redis_reads`, where the key layout lives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable
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
    "CelebrityHints",
    "TrayItem",
    "Tray",
    "MAX_TRAY_AUTHORS",
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
A = TypeVar("A")
B = TypeVar("B")
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


@dataclass(frozen=True, slots=True)
class Tray:
    """A viewer's whole tray in order, and whether authors were left out for its bound."""

    items: list[TrayItem]
    truncated: bool = False


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


class CelebrityHints:
    """Which celebrities each viewer followed at their last tray read, remembered briefly by
    one process, so the next read asks for those authors' stories in its first round trip.

    A hint only saves a round trip, it never decides what is shown: the first round trip reads
    the viewer's current follows (on a single node, the followed celebrities themselves), and
    stories of a hinted author the viewer no longer follows are dropped. On a cluster the
    celebrity set lives in another slot: a hint taken with the same followees stands for it
    until it ages, so an author who became a celebrity meanwhile joins within `seconds`.
    """

    def __init__(self, seconds: float = 30.0, max_viewers: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self._seconds = seconds
        self._max = max_viewers
        self._clock = clock
        self._hints: dict[str, tuple[float, tuple[str, ...], tuple[str, ...]]] = {}

    def of(self, viewer_id: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """(followees, followed celebrities) at the viewer's last read, while fresh."""
        hint = self._hints.get(viewer_id)
        if hint is None or hint[0] <= self._clock():
            return None
        return hint[1], hint[2]

    def remember(self, viewer_id: str, following: tuple[str, ...],
                 celebrities: tuple[str, ...]) -> None:
        if len(self._hints) >= self._max:
            self._hints = {}  # rare and cheap to refill; keeps memory bounded
        self._hints[viewer_id] = (self._clock() + self._seconds, following, celebrities)


def tray_plan(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset(),
    hints: CelebrityHints | None = None,
) -> Plan[Tray]:
    """The whole (bounded) tray: unseen first, then newest; muted authors last. One round trip
    when `hints` knows the viewer's celebrities; else two on a single node, three on a cluster."""
    hint = hints.of(viewer_id) if hints is not None else None
    hinted = list(hint[1]) if hint else []
    # Round trip 1, the viewer's keys: the pushed entries, what the viewer watched (bounded by
    # the 49 hours a seen set lives), the followed celebrities (on a cluster the followees);
    # and the stories of the celebrities the hint names (each on its author's slot).
    index, hinted_rows = yield from _round_trip(_together(
        tray_index(models, viewer_id, MAX_TRAY_AUTHORS), authors_stories(models, hinted)))
    entries = {e.author_id: e for e in index.entries if e.expires_at > now_ms}
    celebrities = index.celebrities
    if celebrities is None:  # on a cluster: which followees are celebrities (one global key)
        if hint is not None and hint[0] == index.following:
            followed = set(index.following)
            celebrities = tuple(author for author in hint[1] if author in followed)
        elif index.following:
            celebrities = tuple((yield from _round_trip(celebrities_among(models,
                                                                          index.following))))
        else:
            celebrities = ()
    if hints is not None:
        hints.remember(viewer_id, index.following, celebrities)
    # Big authors are merged at read time instead of pushed at posting: the hinted ones' stories
    # came with the first round trip, the rest (one HVALS per author) come in one more.
    rows = dict(zip(hinted, hinted_rows, strict=True))
    wanted = list(celebrities)[:MAX_TRAY_AUTHORS]
    missing = [author for author in wanted if author not in rows]
    if missing:
        rows.update(zip(missing, (yield from _round_trip(authors_stories(models, missing))),
                        strict=True))
    entries.update(_celebrity_entries([rows[author] for author in wanted], viewer_id, now_ms))
    truncated = index.truncated or len(celebrities) > MAX_TRAY_AUTHORS
    ordered = list(entries.values())
    if not ordered:
        return Tray([], truncated)
    # An author is unseen while any of their active stories the viewer may see is unwatched.
    items = [
        TrayItem(e.author_id, e.latest_story_id, e.latest_at,
                 not index.seen.issuperset(e.active_story_ids(now_ms)), e.thumbnail_key,
                 e.author_id in muted, e.media_key)
        for e in ordered
    ]
    items.sort(key=lambda i: (i.muted, not i.has_unseen, -i.latest_at, i.author_id))
    return Tray(items, truncated)


def _together(first: Read[A], second: Read[B]) -> Read[tuple[A, B]]:
    """Two reads sent as one round trip."""
    split = len(first.commands)
    return Read(first.commands + second.commands,
                lambda answers: (first.answer(answers[:split]), second.answer(answers[split:])))


def _celebrity_entries(
    rows: Iterable[list[Story]], viewer_id: str, now_ms: int
) -> Iterable[tuple[str, TrayEntry]]:
    """The entries of followed celebrities, computed like pushed ones."""
    for stories in rows:
        entry = tray_entry(stories, viewer_id, True, now_ms)
        if entry is not None:
            yield entry.author_id, entry



def read_tray(
    models: RedisReadModels, viewer_id: str, now_ms: int, muted: frozenset[str] = frozenset(),
    hints: CelebrityHints | None = None,
) -> list[TrayItem]:
    """The viewer's tray items (see `tray_plan`), with the models' sync client."""
    return run(tray_plan(models, viewer_id, now_ms, muted, hints), models.client).items


async def read_tray_async(
    models: RedisReadModels, client: Any, viewer_id: str, now_ms: int,
    muted: frozenset[str] = frozenset(), hints: CelebrityHints | None = None,
) -> Tray:
    """The viewer's tray (see `tray_plan`), with a `redis.asyncio` client."""
    return await run_async(tray_plan(models, viewer_id, now_ms, muted, hints), client)


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
