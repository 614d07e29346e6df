"""Named reads of the Redis read models, each the commands of one round trip and their meaning.

The keys are built here, beside the store that writes them, so no reader knows the layout. A
`Read` runs on its own (`fetch` with the sync client, `fetch_async` with `redis.asyncio`) or
as one round trip of a longer plan (`projections.queries`): every client sends the same.

Each command touches the keys of one slot (see `redis_store`): a round trip over many owners
is one command per key, which the cluster client splits by node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from projections.model import Story, TrayEntry
from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

__all__ = [
    "Command",
    "Read",
    "TrayIndex",
    "pipelined",
    "tray_index",
    "celebrities_among",
    "authors_stories",
    "author_story",
    "author_stories_among",
    "author_stories_and_follow",
    "author_story_and_follow",
    "stories_present",
]

Command = tuple[str, tuple[Any, ...]]  # a client method's name and its arguments
T = TypeVar("T")


def pipelined(client: Any, commands: Iterable[Command]) -> Any:
    """A pipeline (no transaction) holding the commands, to be executed by the caller."""
    pipe = client.pipeline(transaction=False)
    for name, args in commands:
        getattr(pipe, name)(*args)
    return pipe


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """One round trip: the commands to pipeline and how their answers become a value."""

    commands: tuple[Command, ...]
    answer: Callable[[list[Any]], T]

    def fetch(self, client: Any) -> T:
        """The value, read with a sync Redis client."""
        return self.answer(pipelined(client, self.commands).execute())

    async def fetch_async(self, client: Any) -> T:
        """The value, read with a `redis.asyncio` client."""
        return self.answer(await pipelined(client, self.commands).execute())


# -- trays ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrayIndex:
    """What a viewer's tray starts from: the pushed entries and whom the viewer follows."""

    entries: tuple[TrayEntry, ...]  # in tray order: newest story first
    following: tuple[str, ...]  # the viewer's followees, sorted (on a cluster)
    celebrities: tuple[str, ...] | None  # the followed celebrities (on a single node), sorted
    seen: frozenset[str]  # the stories the viewer watched (in the last 49 hours)
    truncated: bool = False  # more pushed entries exist than the `limit` read


def tray_index(models: RedisReadModels, viewer_id: str, limit: int) -> Read[TrayIndex]:
    """The viewer's pushed entries (at most `limit`), what the viewer has watched, and the
    followed celebrities: on a
    single node intersected by Redis; on a cluster the celebrity set lives in another slot, so
    this reads the followees, and `celebrities_among` picks the celebrities in a second trip."""
    k = models.k
    following = k(Kind.FOLLOWING, viewer_id)
    commands: tuple[Command, ...] = (
        ("zrevrange", (k(Kind.TRAY_ORDER, viewer_id), 0, limit - 1)),
        ("hgetall", (k(Kind.TRAY_ENTRIES, viewer_id),)),
        ("smembers", (following,)) if models.cluster else
        ("sinter", (following, k(Kind.CELEBRITIES))),
        ("smembers", (k(Kind.SEEN, viewer_id),)),
    )
    return Read(commands, lambda answers: _tray_index(answers, models.cluster, limit))


def _tray_index(answers: list[Any], cluster: bool, limit: int) -> TrayIndex:
    authors, raw_entries, members, seen = answers
    entries = tuple(TrayEntry.from_json(a.decode(), raw_entries[a]) for a in authors
                    if a in raw_entries)
    ids = tuple(sorted(m.decode() for m in members))
    watched = frozenset(s.decode() for s in seen)
    truncated = len(authors) >= limit and len(raw_entries) > limit
    if cluster:
        return TrayIndex(entries, ids, None, watched, truncated)
    return TrayIndex(entries, (), ids, watched, truncated)


def celebrities_among(models: RedisReadModels, user_ids: Sequence[str]) -> Read[list[str]]:
    """Which of these users (at least one) are celebrities, merged into trays at read time.

    The celebrity set is one global key: it is small (authors above the fan-out threshold),
    read-mostly, and asked per tray with one SMISMEMBER over the viewer's followees, never
    intersected with a viewer's key (their slots differ). Its node serves that lookup for
    every tray; a replica per node, or a copy per slot range, is the next step if it runs hot.
    """
    ids = list(user_ids)
    command = ("smismember", (models.k(Kind.CELEBRITIES), ids))
    return Read((command,), lambda answers: [u for u, flag in zip(ids, answers[0], strict=True)
                                             if flag])


def authors_stories(models: RedisReadModels, author_ids: Sequence[str]) -> Read[list[list[Story]]]:
    """Every stored story (any status, unordered) of each author, in the authors' order."""
    commands = tuple(("hvals", (models.k(Kind.AUTHOR_STORIES, a),)) for a in author_ids)
    return Read(commands, lambda rows: [[Story.from_json(v) for v in row] for row in rows])


# -- stories ----------------------------------------------------------------------------------


def author_story(models: RedisReadModels, author_id: str, story_id: str) -> Read[Story | None]:
    """One stored story of the author (any status), or None."""
    command = ("hget", (models.k(Kind.AUTHOR_STORIES, author_id), story_id))
    return Read((command,), lambda answers: _story_or_none(answers[0]))


def author_stories_among(
    models: RedisReadModels, author_id: str, story_ids: Sequence[str]
) -> Read[list[Story]]:
    """Which of these ids are stored stories of the author (any status), as stories."""
    command = ("hmget", (models.k(Kind.AUTHOR_STORIES, author_id), list(story_ids)))
    return Read((command,), lambda answers: [Story.from_json(r) for r in answers[0] if r is not None])


def author_stories_and_follow(
    models: RedisReadModels, viewer_id: str, author_id: str
) -> Read[tuple[list[Story], bool]]:
    """Every stored story of the author, and whether the viewer follows them."""
    commands = (("hvals", (models.k(Kind.AUTHOR_STORIES, author_id),)),
                _follows(models, viewer_id, author_id))
    return Read(commands, lambda answers: ([Story.from_json(v) for v in answers[0]],
                                           bool(answers[1])))


def author_story_and_follow(
    models: RedisReadModels, viewer_id: str, author_id: str, story_id: str
) -> Read[tuple[Story | None, bool]]:
    """One stored story of the author (or None), and whether the viewer follows them."""
    commands = (("hget", (models.k(Kind.AUTHOR_STORIES, author_id), story_id)),
                _follows(models, viewer_id, author_id))
    return Read(commands, lambda answers: (_story_or_none(answers[0]), bool(answers[1])))


def stories_present(
    models: RedisReadModels, stories: Sequence[tuple[str, str]]
) -> Read[list[bool]]:
    """Whether each (author id, story id) is still among its author's stored stories."""
    commands = tuple(("hexists", (models.k(Kind.AUTHOR_STORIES, author_id), story_id))
                     for author_id, story_id in stories)
    return Read(commands, lambda answers: [bool(present) for present in answers])


def _follows(models: RedisReadModels, viewer_id: str, author_id: str) -> Command:
    return ("sismember", (models.k(Kind.FOLLOWING, viewer_id), author_id))


def _story_or_none(raw: bytes | None) -> Story | None:
    return Story.from_json(raw) if raw is not None else None
