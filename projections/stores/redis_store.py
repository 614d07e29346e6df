"""The Redis read models: active stories, trays, follow graph sets, counters (sticker results among them).

Every key starts with the read-model version's prefix, so a replay can build a new version
beside the serving one. Writes are idempotent: sets and hashes keyed by ids, never blind INCRs.

Cluster-safe: a key's hash tag is its owner's id (`<prefix><kind>:{<owner>}`), so the keys of
one owner share a slot: a viewer's tray, seen set and follow sets; a story's ref, tombstone,
counters and identities' hashes; an author's stories. Every script and multi-key command
touches the keys of one owner; reads over many owners are one command per key, pipelined
(the cluster client sends each node its part). The global key (the celebrity set) has a slot
of its own and is only ever used one key per command. The expiry index is one sorted set per
lifecycle partition, tagged by it (`x:{p3}`): each partition's index has a slot of its own,
written by the folds of that partition and polled by the worker that consumes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis

from core.clients import is_cluster
from projections.catalogue import PROJECTIONS, REDIS_KINDS
from projections.model import Story
from projections.stores.base import (
    EXPIRY_GRACE_MS,
    SEEN_TTL_MS,
    AuthorState,
    BatchMarks,
    Counters,
    DueExpiry,
    StoryRef,
    UserTraces,
)
from projections.stores.keys import Kind, expiry_owner
from projections.stores.redis_batch import RedisBatch, engaged_member, pseudonym
from projections.stores.redis_dump import redis_dump
from projections.stores.redis_replicas import NO_WAIT, Replicas, ReplicaWait
from projections.stores.redis_scripts import (
    ANSWER_SCRIPT,
    BUMP_VERSION_SCRIPT,
    REACT_SCRIPT,
    SEEN_SCRIPT,
    TRAY_SCRIPT,
    VIEWS_SCRIPT,
)

__all__ = ["RedisReadModels", "RedisBatch", "pseudonym", "engaged_member", "engaged_traces",
           "StoryRef", "Counters", "SEEN_TTL_MS", "EXPIRY_GRACE_MS", "SEEN_SCRIPT", "VIEWS_SCRIPT"]


class RedisReadModels:
    """Key layout and reads; `batch()` gives the buffered writer."""

    def __init__(self, client: redis.Redis, prefix: str | Mapping[str, str], secret: bytes,
                 wait: ReplicaWait = NO_WAIT):
        """`prefix`: one for every projection, or one per projection name; `wait`: the replicas
        a flush waits for (`redis_replicas`)."""
        self.client = client
        self.prefixes = (
            dict.fromkeys(PROJECTIONS, prefix) if isinstance(prefix, str) else dict(prefix)
        )
        self.secret = secret
        self.cluster = is_cluster(client)
        self.replicas = Replicas(wait, lambda tag: self.k(Kind.FENCE, tag))
        self._react = client.register_script(REACT_SCRIPT)
        self._answer = client.register_script(ANSWER_SCRIPT)
        self._views = client.register_script(VIEWS_SCRIPT)
        self._seen = client.register_script(SEEN_SCRIPT)
        self._bump_version = client.register_script(BUMP_VERSION_SCRIPT)
        self._tray = client.register_script(TRAY_SCRIPT)

    # -- keys --------------------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """The single prefix when every projection shares one version."""
        (prefix,) = set(self.prefixes.values())
        return prefix

    def k(self, kind: Kind, ident: str = "") -> str:
        """The key of a kind and owner: the owner's id is the hash tag, so every key of one
        owner lands on one slot of a cluster; a global key (no owner) has a slot of its own."""
        prefix = self.prefixes[REDIS_KINDS[kind]]
        return f"{prefix}{kind}:{{{ident}}}" if ident else f"{prefix}{kind}"

    def expiry_index(self, partition: int | None) -> str:
        """The expiry index of a lifecycle partition; None: the single index of earlier releases."""
        return self.k(Kind.EXPIRY_INDEX, expiry_owner(partition))

    def live_channel(self, story_id: str) -> str:
        """Sharded pub/sub channel of a story's live engagement, for its author (the story's
        slot, like its other keys)."""
        return self.k(Kind.LIVE_CHANNEL, story_id)

    # -- reads -------------------------------------------------------------------------------
    def author_stories(self, author_id: str) -> list[Story]:
        """Every story the author has in the read model (any status), unordered."""
        return [Story.from_json(v) for v in self.client.hvals(self.k(Kind.AUTHOR_STORIES, author_id))]

    def authors_stories(self, author_ids: Sequence[str]) -> dict[str, list[Story]]:
        """author_stories for many authors in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for author_id in author_ids:
            pipe.hvals(self.k(Kind.AUTHOR_STORIES, author_id))
        rows = pipe.execute()
        return {
            a: [Story.from_json(v) for v in row] for a, row in zip(author_ids, rows, strict=True)
        }

    def authors_states(self, author_ids: Sequence[str]) -> dict[str, AuthorState]:
        """Each author's version, then their stories, in one round trip: both keys are on the
        author's node, which answers in order, so the stories are at least as new as the
        version."""
        pipe = self.client.pipeline(transaction=False)
        self._queue_states(pipe, author_ids)
        return _states(author_ids, pipe.execute())

    def _queue_states(self, pipe: Any, author_ids: Sequence[str]) -> None:
        for author_id in author_ids:
            pipe.get(self.k(Kind.AUTHOR_VERSION, author_id))
            pipe.hvals(self.k(Kind.AUTHOR_STORIES, author_id))

    def followers_and_states(self, author_ids: Sequence[str]
                             ) -> tuple[dict[str, set[str]], dict[str, AuthorState]]:
        """followers_of and authors_states of these authors in one round trip."""
        if not author_ids:
            return {}, {}
        pipe = self.client.pipeline(transaction=False)
        self._queue_followers(pipe, author_ids)
        self._queue_states(pipe, author_ids)
        rows = pipe.execute()
        count = len(author_ids)
        return _followers(author_ids, rows[:count]), _states(author_ids, rows[count:])

    def story_refs(self, story_ids: Sequence[str]) -> dict[str, StoryRef | None]:
        """Author and expiry of many stories in one round trip; None for unknown or gone."""
        return self.marks(story_ids, ()).refs

    def deleted(self, story_ids: Sequence[str]) -> set[str]:
        """Which of these stories were deleted (their engagement must not come back)."""
        return self.marks((), story_ids).deleted

    def erased(self, user_ids: Sequence[str]) -> dict[str, int]:
        """When each of these users was erased (ms), for those who were; one round trip."""
        return self.marks((), (), user_ids).erased

    def marks(self, looked_up: Sequence[str], posted: Sequence[str],
              users: Sequence[str] = ()) -> BatchMarks:
        """story_refs of the stories looked up, deleted of the stories posted and erased of
        the users named, in one round trip."""
        named = list(dict.fromkeys(users))
        if not looked_up and not posted and not named:
            return BatchMarks({}, set(), {})
        values = self._get_each([self.k(Kind.STORY_REF, s) for s in looked_up]
                                + [self.k(Kind.DELETED, s) for s in posted]
                                + [self.erased_key(u) for u in named])
        refs_end, deleted_end = len(looked_up), len(looked_up) + len(posted)
        refs = {s: _parse_ref(v) for s, v in zip(looked_up, values[:refs_end], strict=True)}
        flags = values[refs_end:deleted_end]
        erased_at = values[deleted_end:]
        return BatchMarks(refs, {s for s, flag in zip(posted, flags, strict=True) if flag},
                          {u: int(at) for u, at in zip(named, erased_at, strict=True)
                           if at is not None})

    def _get_each(self, keys: Sequence[str]) -> list[Any]:
        """GET of keys of many owners in one round trip: one MGET on a single node; on a
        cluster one GET per key, pipelined, since an MGET spanning slots is refused."""
        if not self.cluster:
            return list(self.client.mget(keys))
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        return list(pipe.execute())

    def story(self, story_id: str) -> Story | None:
        """One story of the read model (any status), or None when unknown, expired or deleted."""
        ref = self.story_refs([story_id]).get(story_id)
        if ref is None:
            return None
        raw = self.client.hget(self.k(Kind.AUTHOR_STORIES, ref.author_id), story_id)
        return Story.from_json(raw) if raw else None

    def insights_owner(self, story_id: str) -> str | None:
        """The author of a story whose insights are still readable (live or expired < window)."""
        owner = self.client.get(self.k(Kind.INSIGHTS_OWNER, story_id))
        return _text(owner) if owner else None

    def reactions_by(self, user_id: str, story_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The user's reaction (ms, emoji) to each of these stories that still holds one, in one
        round trip (for their export)."""
        if not story_ids:
            return {}
        who = pseudonym(self.secret, user_id)
        pipe = self.client.pipeline(transaction=False)
        for story_id in story_ids:
            pipe.hget(self.k(Kind.REACTORS, story_id), who)
        found = {}
        for story_id, value in zip(story_ids, pipe.execute(), strict=True):
            if value is not None:
                at, _, emoji = _text(value).partition("|")
                found[story_id] = (int(at), emoji)
        return found

    def close_friends(self, user_id: str) -> set[str]:
        return {_text(m) for m in self.client.smembers(self.k(Kind.CLOSE_FRIENDS, user_id))}

    def following(self, user_id: str) -> set[str]:
        return {_text(m) for m in self.client.smembers(self.k(Kind.FOLLOWING, user_id))}

    def followers(self, user_id: str) -> set[str]:
        return {_text(m) for m in self.client.smembers(self.k(Kind.FOLLOWERS, user_id))}

    def followers_of(self, user_ids: Sequence[str]) -> dict[str, set[str]]:
        """Followers of many users in one round trip."""
        if not user_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        self._queue_followers(pipe, user_ids)
        return _followers(user_ids, pipe.execute())

    def _queue_followers(self, pipe: Any, user_ids: Sequence[str]) -> None:
        for user_id in user_ids:
            pipe.smembers(self.k(Kind.FOLLOWERS, user_id))

    def follower_counts(self, user_ids: Sequence[str]) -> dict[str, int]:
        """Follower counts of many users in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.scard(self.k(Kind.FOLLOWERS, user_id))
        return dict(zip(user_ids, map(int, pipe.execute()), strict=True))

    def celebrities_among(self, user_ids: Sequence[str]) -> set[str]:
        """Which of these users are flagged as pulled at read time (one round trip)."""
        if not user_ids:
            return set()
        # One key: the global celebrity set (see `redis_reads.celebrities_among`).
        flags = self.client.smismember(self.k(Kind.CELEBRITIES), list(user_ids))
        return {u for u, flag in zip(user_ids, flags, strict=True) if flag}

    def follows(self, follower_id: str, author_id: str) -> bool:
        return bool(self.client.sismember(self.k(Kind.FOLLOWING, follower_id), author_id))

    def counters(self, story_id: str) -> Counters:
        """Counts and sticker results, readable for the insights window."""
        pipe = self.client.pipeline(transaction=False)
        pipe.scard(self.k(Kind.VIEW_EVENTS, story_id))
        pipe.scard(self.k(Kind.VIEWERS, story_id))
        pipe.scard(self.k(Kind.REPLIES, story_id))
        pipe.hgetall(self.k(Kind.REACTION_COUNTS, story_id))
        pipe.hgetall(self.k(Kind.STICKER_COUNTERS, story_id))
        views, viewers, replies, reactions, stickers = pipe.execute()
        return Counters(views, viewers, replies, _int_map(reactions), _sticker_map(stickers))

    # -- erasure ------------------------------------------------------------------------------
    def erased_key(self, user_id: str) -> str:
        """The erasure record of a user: keyed by the keyed hash of the id, never the id."""
        return self.k(Kind.ERASED, pseudonym(self.secret, user_id).hex())

    def erasure_index(self) -> str:
        """The sorted set of every erasure, the keyed hash of the id scored by the instant."""
        return self.k(Kind.ERASURES)

    def erased_since(self, since_ms: int) -> dict[str, int]:
        """The erasures since then (ms), by the keyed hash of the id (hex); one ZRANGEBYSCORE."""
        found: Any = self.client.zrangebyscore(
            self.erasure_index(), since_ms, "+inf", withscores=True)
        return {_text(hashed): int(at) for hashed, at in found}

    def following_of(self, user_ids: Sequence[str]) -> dict[str, set[str]]:
        """Whom each of these users follows, in one round trip."""
        if not user_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.smembers(self.k(Kind.FOLLOWING, user_id))
        rows = pipe.execute()
        return {u: {m.decode() for m in row} for u, row in zip(user_ids, rows, strict=True)}

    def traces(self, user_id: str) -> UserTraces:
        """What an erasure must find of the user: three sets of the user's slot, one round trip."""
        pipe = self.client.pipeline(transaction=False)
        kinds = (Kind.SEEN, Kind.ENGAGED, Kind.AUTHOR_INSIGHTS, Kind.LISTED_BY, Kind.CLOSE_FRIENDS)
        for kind in kinds:
            pipe.smembers(self.k(kind, user_id))
        pipe.hgetall(self.k(Kind.AUTHOR_PARTITIONS, user_id))
        *sets, partitions = pipe.execute()
        seen, engaged, insights, listed_by, friends = ({_text(m) for m in s} for s in sets)
        return engaged_traces(seen, engaged, insights,
                              {_text(s): int(p) for s, p in partitions.items()},
                              listed_by, friends)

    def due_expiries(self, partitions: Sequence[int | None], now_ms: int,
                     limit: int) -> list[DueExpiry]:
        """Stories due by `now_ms` in these partitions' indexes, earliest first and at most
        `limit` per index: one ZRANGEBYSCORE per index (one slot each), in one round trip."""
        if not partitions:
            return []
        pipe = self.client.pipeline(transaction=False)
        for partition in partitions:
            pipe.zrangebyscore(self.expiry_index(partition), "-inf", now_ms, 0, limit,
                               withscores=True)
        found = pipe.execute()
        return [_due(member, score, partition)
                for partition, due in zip(partitions, found, strict=True) for member, score in due]

    def expiry_backlog(self, partitions: Sequence[int | None], now_ms: int) -> int:
        """How many stories are due by `now_ms` in these partitions' indexes, all of them: one
        ZCOUNT per index, in one round trip."""
        if not partitions:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for partition in partitions:
            pipe.zcount(self.expiry_index(partition), "-inf", now_ms)
        return sum(pipe.execute())

    def next_expiry(self, partitions: Sequence[int | None], after_ms: int) -> int | None:
        """The earliest expiry instant later than `after_ms` in these partitions' indexes (None:
        none): the first entry past it of each index, in one round trip."""
        if not partitions:
            return None
        pipe = self.client.pipeline(transaction=False)
        for partition in partitions:
            pipe.zrangebyscore(self.expiry_index(partition), f"({after_ms}", "+inf", 0, 1,
                               withscores=True)
        return min((int(score) for found in pipe.execute() for _, score in found), default=None)

    def batch(self) -> RedisBatch:
        return RedisBatch(self)

    def publish(self, notes: list[dict[str, Any]]) -> None:
        """Tell the live feed (the author's open story) what just happened, once."""
        by_story: dict[str, list[dict[str, Any]]] = {}
        for note in notes:
            by_story.setdefault(note["story_id"], []).append(note)
        pipe: Any = self.client.pipeline(transaction=False)  # execute_command is untyped
        for story_id, events in by_story.items():
            # Sharded pub/sub: on a cluster only the node of the channel's slot carries it (a
            # plain PUBLISH is broadcast to every node, and a cluster pipeline refuses it).
            pipe.execute_command("SPUBLISH", self.live_channel(story_id), orjson.dumps(events))
        pipe.execute()

    def dump(self) -> dict[str, Any]:
        """Every read model of this version in the stores' common form (for checks; scans)."""
        return redis_dump(self)


def _followers(user_ids: Sequence[str], rows: Sequence[Any]) -> dict[str, set[str]]:
    return {u: {m.decode() for m in row} for u, row in zip(user_ids, rows, strict=True)}


def _states(author_ids: Sequence[str], rows: Sequence[Any]) -> dict[str, AuthorState]:
    """AuthorStates from a version then a story list per author, in that order."""
    return {a: AuthorState(int(rows[2 * i] or 0), [Story.from_json(v) for v in rows[2 * i + 1]])
            for i, a in enumerate(author_ids)}


def engaged_traces(seen: set[str], engaged: set[str], insights: set[str],
                   partitions: dict[str, int], listed_by: set[str],
                   close_friends: set[str]) -> UserTraces:
    """UserTraces from a user's seen, engaged, insights and listed-by sets and story
    partitions."""
    answered = {tuple(m.split("|", 1)) for m in engaged if "|" in m}
    return UserTraces(frozenset(seen), frozenset(m for m in engaged if "|" not in m),
                      frozenset((story, sticker) for story, sticker in answered),
                      frozenset(insights), frozenset(partitions.items()), frozenset(listed_by),
                      frozenset(close_friends))


def _parse_ref(value: bytes | str | None) -> StoryRef | None:
    if value is None:
        return None
    author_id, expires_at = _text(value).rsplit("|", 1)
    return StoryRef(author_id, int(expires_at))


def _due(member: bytes, expires_at: float, partition: int | None) -> DueExpiry:
    story_id, author_id = _text(member).split("|", 1)
    return DueExpiry(story_id, author_id, int(expires_at), partition)


def _int_map(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in raw.items() if int(v) > 0}


def _sticker_map(raw: dict[bytes, bytes]) -> dict[str, dict[str, float]]:
    """`sticker:field` -> number, grouped per sticker."""
    result: dict[str, dict[str, float]] = {}
    for key, value in raw.items():
        sticker_id, field = key.decode().split(":", 1)
        result.setdefault(sticker_id, {})[field] = float(value)
    return result


def _text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else value
