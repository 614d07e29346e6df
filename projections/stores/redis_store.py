"""The Redis read models: active stories, trays, follow graph sets, counters (sticker results among them).

Every key starts with the read-model version's prefix, so a replay can build a new version
beside the serving one. Writes are idempotent: sets and hashes keyed by ids, never blind INCRs.

Cluster-safe: a key's hash tag is its owner's id (`<prefix><kind>:{<owner>}`), so the keys of
one owner share a slot: a viewer's tray, seen set and follow sets; a story's ref, tombstone,
counters and identities' hashes; an author's stories. Every script and multi-key command
touches the keys of one owner; reads over many owners are one command per key, pipelined
(the cluster client sends each node its part). The global keys (the celebrity set, the
expiry index) have a slot of their own and are only ever used one key per command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis
from redis.commands.core import Script
from redis.crc import key_slot

from core.clients import is_cluster
from projections.catalogue import PROJECTIONS, REDIS_KINDS
from projections.model import Story, TrayEntry
from projections.stores.base import EXPIRY_GRACE_MS, SEEN_TTL_MS, Counters, StoryRef
from projections.stores.keys import Kind
from projections.stores.redis_dump import redis_dump
from projections.stores.redis_scripts import ANSWER_SCRIPT, REACT_SCRIPT, SEEN_SCRIPT, VIEWS_SCRIPT

__all__ = ["RedisReadModels", "RedisBatch", "pseudonym", "StoryRef", "Counters", "SEEN_TTL_MS",
           "EXPIRY_GRACE_MS", "SEEN_SCRIPT", "VIEWS_SCRIPT"]

def pseudonym(secret: bytes, value: str) -> bytes:
    """A keyed 8-byte hash: dedupes users and events in counters without keeping identities."""
    return hashlib.blake2b(value.encode(), key=secret, digest_size=8).digest()


class RedisReadModels:
    """Key layout and reads; `batch()` gives the buffered writer."""

    def __init__(self, client: redis.Redis, prefix: str | Mapping[str, str], secret: bytes):
        """`prefix`: one for every projection, or one per projection name."""
        self.client = client
        self.prefixes = (
            dict.fromkeys(PROJECTIONS, prefix) if isinstance(prefix, str) else dict(prefix)
        )
        self.secret = secret
        self.cluster = is_cluster(client)
        self._react = client.register_script(REACT_SCRIPT)
        self._answer = client.register_script(ANSWER_SCRIPT)
        self._views = client.register_script(VIEWS_SCRIPT)
        self._seen = client.register_script(SEEN_SCRIPT)

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

    def live_channel(self, story_id: str) -> str:
        """Pub/sub channel of a story's live engagement, for its author."""
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

    def story_refs(self, story_ids: Sequence[str]) -> dict[str, StoryRef | None]:
        """Author and expiry of many stories in one round trip; None for unknown or gone."""
        if not story_ids:
            return {}
        values = self._get_each([self.k(Kind.STORY_REF, s) for s in story_ids])
        return {s: _parse_ref(v) for s, v in zip(story_ids, values, strict=True)}

    def deleted(self, story_ids: Sequence[str]) -> set[str]:
        """Which of these stories were deleted (their engagement must not come back)."""
        if not story_ids:
            return set()
        flags = self._get_each([self.k(Kind.DELETED, s) for s in story_ids])
        return {s for s, flag in zip(story_ids, flags, strict=True) if flag}

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
        for user_id in user_ids:
            pipe.smembers(self.k(Kind.FOLLOWERS, user_id))
        rows = pipe.execute()
        return {u: {m.decode() for m in row} for u, row in zip(user_ids, rows, strict=True)}

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

    def batch(self) -> RedisBatch:
        return RedisBatch(self)

    def publish(self, notes: list[dict[str, Any]]) -> None:
        """Tell the live feed (the author's open story) what just happened, once."""
        by_story: dict[str, list[dict[str, Any]]] = {}
        for note in notes:
            by_story.setdefault(note["story_id"], []).append(note)
        pipe = self.client.pipeline(transaction=False)
        for story_id, events in by_story.items():
            pipe.publish(self.live_channel(story_id), orjson.dumps(events))
        pipe.execute()

    def dump(self) -> dict[str, Any]:
        """Every read model of this version in the stores' common form (for checks; scans)."""
        return redis_dump(self)


class RedisBatch:
    """Buffers writes into one pipeline; `flush()` sends them in a single round trip."""

    def __init__(self, models: RedisReadModels):
        self.m = models
        self.pipe = models.client.pipeline(transaction=False)
        self.size = 0
        self.watched: list[tuple[int, dict[str, Any]]] = []  # (command index, what it means if it changed)
        self.members: dict[str, list[bytes | str]] = {}  # set key -> members of one SADD
        self.view_watched: list[tuple[int, list[dict[str, Any]]]] = []  # (command index, one per viewer)
        self.views: dict[str, _StoryViews] = {}  # story id -> its views in this batch
        self.seen: dict[str, list[str]] = {}  # viewer id -> stories watched in this batch

    def _watch_next(self, note: dict[str, Any]) -> None:
        """The next command's truthy result means `note` happened for the first time."""
        self.watched.append((len(self.pipe), note))

    def _count(self, n: int = 1) -> None:
        self.size += n

    def _add_member(self, key: str, member: bytes | str) -> None:
        """Members of one set go out as a single SADD, sent before any expiry of that set."""
        self.members.setdefault(key, []).append(member)

    def _drain(self) -> None:
        """Send what is buffered per key, so that later commands in the pipeline see it."""
        for key, members in self.members.items():
            self.pipe.sadd(key, *members)
        self._count(len(self.members))
        self.members = {}
        self._drain_views()
        self._drain_seen()

    def _drain_views(self) -> None:
        k = self.m.k
        for story_id, views in self.views.items():
            self.view_watched.append((len(self.pipe), views.notes))
            self._script(self.m._views, [k(Kind.VIEW_EVENTS, story_id), k(Kind.VIEWERS, story_id)],
                         [views.keep_until, len(views.events), *views.events, *views.viewers])
        self._count(len(self.views))
        self.views = {}

    def _drain_seen(self) -> None:
        """One script per slot over the seen sets of that slot's viewers (a script's keys must
        share a slot; on one node every key is in slot 0 of this grouping)."""
        by_slot: dict[int, list[tuple[str, list[str]]]] = {}
        for viewer_id, story_ids in self.seen.items():
            key = self.m.k(Kind.SEEN, viewer_id)
            slot = key_slot(key.encode()) if self.m.cluster else 0
            by_slot.setdefault(slot, []).append((key, story_ids))
        for group in by_slot.values():
            args: list[Any] = [SEEN_TTL_MS]
            for _, story_ids in group:
                args += [len(story_ids), *story_ids]
            self._script(self.m._seen, [key for key, _ in group], args)
        self._count(len(by_slot))
        self.seen = {}

    def _command(self, *args: Any) -> None:
        """Queue a command as is (routed by its keys on a cluster)."""
        pipe: Any = self.pipe  # redis-py leaves the pipeline's execute_command untyped
        pipe.execute_command(*args)

    def _script(self, script: Script, keys: list[str], args: list[Any]) -> None:
        """Queue a script on the keys of one slot. A cluster pipeline cannot load scripts and
        each node has its own script cache (a failover or resharding empties it for the
        slots moved), so there the script goes by its text (EVAL: compiled once per node,
        never NOSCRIPT); a single node's pipeline loads it and calls it by hash."""
        if self.m.cluster:
            # (ClusterPipeline.eval is not the EVAL command: send the command itself.)
            self._command("EVAL", script.script, len(keys), *keys, *args)
        else:
            script(keys=keys, args=args, client=self.pipe)

    # -- stories -----------------------------------------------------------------------------
    def put_story(self, story: Story, insights_until: int) -> None:
        k = self.m.k
        self.pipe.set(k(Kind.INSIGHTS_OWNER, story.story_id), story.author_id, pxat=insights_until)
        self.pipe.hset(k(Kind.AUTHOR_STORIES, story.author_id), story.story_id, story.to_json())
        keep_until = story.expires_at + EXPIRY_GRACE_MS
        self.pipe.pexpireat(k(Kind.AUTHOR_STORIES, story.author_id), keep_until, gt=True)
        self.pipe.pexpireat(k(Kind.AUTHOR_STORIES, story.author_id), keep_until, nx=True)
        ref = f"{story.author_id}|{story.expires_at}"
        self.pipe.set(k(Kind.STORY_REF, story.story_id), ref, pxat=story.expires_at)
        self.pipe.zadd(k(Kind.EXPIRY_INDEX), {f"{story.story_id}|{story.author_id}": story.expires_at})
        self._count(5)

    def drop_story(self, author_id: str, story_id: str) -> None:
        k = self.m.k
        self.pipe.hdel(k(Kind.AUTHOR_STORIES, author_id), story_id)
        self.pipe.delete(k(Kind.STORY_REF, story_id))
        self.pipe.zrem(k(Kind.EXPIRY_INDEX), f"{story_id}|{author_id}")
        self._count(3)

    def keep_insights_owner(self, story_id: str, author_id: str, until_ms: int) -> None:
        """The author may read the story's insights until then (a replay after its expiry)."""
        self.pipe.set(self.m.k(Kind.INSIGHTS_OWNER, story_id), author_id, pxat=until_ms)
        self._count()

    def mark_deleted(self, story_id: str, until_ms: int) -> None:
        """Remember a deletion so late engagement cannot resurrect counters."""
        k = self.m.k
        self._drain()
        self.pipe.set(k(Kind.DELETED, story_id), 1, pxat=until_ms)
        self.pipe.delete(k(Kind.INSIGHTS_OWNER, story_id))
        self.clear_counters(story_id)
        self._count(2)

    def clear_counters(self, story_id: str) -> None:
        """Every counter of a story, identities' hashes included (one slot: the story's tag)."""
        counters = (Kind.VIEW_EVENTS, Kind.VIEWERS, Kind.REPLIES, Kind.REACTION_COUNTS,
                    Kind.REACTORS, Kind.STICKER_COUNTERS, Kind.ANSWERERS)
        # One DEL of keys of one slot (a cluster pipeline's `delete` takes a single key).
        self._command("DEL", *(self.m.k(kind, story_id) for kind in counters))
        self._count()

    # -- trays -------------------------------------------------------------------------------
    def set_tray_entry(self, viewer_id: str, entry: TrayEntry) -> None:
        k = self.m.k
        self.pipe.zadd(k(Kind.TRAY_ORDER, viewer_id), {entry.author_id: entry.latest_at})
        self.pipe.hset(k(Kind.TRAY_ENTRIES, viewer_id), entry.author_id, entry.to_json())
        self._count(2)

    def drop_tray_entry(self, viewer_id: str, author_id: str) -> None:
        k = self.m.k
        self.pipe.zrem(k(Kind.TRAY_ORDER, viewer_id), author_id)
        self.pipe.hdel(k(Kind.TRAY_ENTRIES, viewer_id), author_id)
        self._count(2)

    # -- follow graph ------------------------------------------------------------------------
    def follow(self, follower_id: str, followee_id: str) -> None:
        self.pipe.sadd(self.m.k(Kind.FOLLOWERS, followee_id), follower_id)
        self.pipe.sadd(self.m.k(Kind.FOLLOWING, follower_id), followee_id)
        self._count(2)

    def unfollow(self, follower_id: str, followee_id: str) -> None:
        self.pipe.srem(self.m.k(Kind.FOLLOWERS, followee_id), follower_id)
        self.pipe.srem(self.m.k(Kind.FOLLOWING, follower_id), followee_id)
        self._count(2)

    def set_celebrity(self, user_id: str, is_celebrity: bool) -> None:
        op = self.pipe.sadd if is_celebrity else self.pipe.srem
        op(self.m.k(Kind.CELEBRITIES), user_id)
        self._count()

    def set_close_friends(self, user_id: str, friend_ids: Iterable[str]) -> None:
        key = self.m.k(Kind.CLOSE_FRIENDS, user_id)
        self.pipe.delete(key)
        friends = list(friend_ids)
        if friends:
            self.pipe.sadd(key, *friends)
        self._count(2)

    # -- engagement --------------------------------------------------------------------------
    def view(self, story_id: str, viewer_id: str, event_id: str, at_ms: int,
             keep_until: int) -> None:
        """A view counts once per event and once per viewer; sent per story at the flush."""
        views = self.views.get(story_id)
        if views is None:
            views = self.views[story_id] = _StoryViews()
        secret = self.m.secret
        views.events.append(pseudonym(secret, event_id))
        views.viewers.append(pseudonym(secret, viewer_id))
        views.notes.append({"type": "view", "story_id": story_id, "user_id": viewer_id,
                            "at": at_ms})
        views.keep_until = max(views.keep_until, keep_until)

    def mark_seen(self, viewer_id: str, story_id: str) -> None:
        """The viewer watched the story: their tray stops showing it as unseen (49 h)."""
        self.seen.setdefault(viewer_id, []).append(story_id)

    def reply(self, story_id: str, event_id: str) -> None:
        self._add_member(self.m.k(Kind.REPLIES, story_id), pseudonym(self.m.secret, event_id))

    def react(self, story_id: str, user_id: str, at_ms: int, emoji: str, keep_until: int) -> None:
        keys = [self.m.k(Kind.REACTORS, story_id), self.m.k(Kind.REACTION_COUNTS, story_id)]
        who = pseudonym(self.m.secret, user_id)
        self._watch_next({"type": "reaction", "story_id": story_id, "user_id": user_id,
                          "emoji": emoji, "at": at_ms})
        self._script(self.m._react, keys, [who, at_ms, emoji, keep_until])
        self._count()

    def answer(
        self, story_id: str, sticker_id: str, user_id: str, increments: dict[str, float],
        keep_until: int,
    ) -> None:
        keys = [self.m.k(Kind.ANSWERERS, story_id), self.m.k(Kind.STICKER_COUNTERS, story_id)]
        who = pseudonym(self.m.secret, f"{sticker_id}:{user_id}")
        args: list[Any] = [who, keep_until]
        for name, amount in increments.items():
            args += [f"{sticker_id}:{name}", amount]
        self._watch_next({"type": "answer", "story_id": story_id, "sticker_id": sticker_id,
                          "user_id": user_id})
        self._script(self.m._answer, keys, args)
        self._count()

    def keep_replies_until(self, story_id: str, keep_until: int) -> None:
        """Reply counters outlive the story for the insights window, then vanish (views set
        their own expiry)."""
        self._drain()
        self.pipe.pexpireat(self.m.k(Kind.REPLIES, story_id), keep_until)
        self._count()

    def flush(self) -> list[dict[str, Any]]:
        """Send the buffered writes; returns the watched notes whose write changed something."""
        self._drain()
        results = self.pipe.execute() if self.size else []
        changed = [note for index, note in self.watched if results and results[index]]
        for index, notes in self.view_watched:
            changed += [note for note, first in zip(notes, results[index], strict=True) if first]
        self.pipe = self.m.client.pipeline(transaction=False)
        self.size = 0
        self.watched, self.view_watched = [], []
        return changed


@dataclass(slots=True)
class _StoryViews:
    """One story's views buffered in a batch: event and viewer pseudonyms, live-feed notes."""

    events: list[bytes] = field(default_factory=list)
    viewers: list[bytes] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    keep_until: int = 0


def _parse_ref(value: bytes | str | None) -> StoryRef | None:
    if value is None:
        return None
    author_id, expires_at = _text(value).rsplit("|", 1)
    return StoryRef(author_id, int(expires_at))


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
