"""The buffered writer of the Redis read models: fold writes in one pipeline, every script and
multi-key command on the keys of one owner (the key layout of `redis_store`); views and seen
sets go out at the flush as one script per story and per slot, set members as one SADD per set."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.commands.core import Script
from redis.crc import key_slot

from projections.model import Story, TrayEntry
from projections.stores.base import EXPIRY_GRACE_MS, SEEN_TTL_MS
from projections.stores.keys import Kind
from projections.stores.redis_replicas import queued_keys

if TYPE_CHECKING:
    from projections.stores.redis_store import RedisReadModels

_ENGAGED_SEPARATOR = "|"

__all__ = ["RedisBatch", "engaged_member", "pseudonym"]

TRAY_SCRIPT_VIEWERS = 500  # viewers per tray script call


def engaged_member(story_id: str, sticker_id: str | None) -> str:
    """A member of a user's engaged set: the story reacted to, or `story|sticker` answered."""
    return story_id if sticker_id is None else f"{story_id}{_ENGAGED_SEPARATOR}{sticker_id}"


def pseudonym(secret: bytes, value: str) -> bytes:
    """A keyed 8-byte hash: dedupes users and events in counters without keeping identities."""
    return hashlib.blake2b(value.encode(), key=secret, digest_size=8).digest()


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
        self.changed_authors: set[str] = set()  # whose stories' version grows at the drain
        self.trays: dict[str, list[list[Any]]] = {}  # viewer id -> tray writes, in order

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
        self._drain_versions()
        self._drain_trays()

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
        groups = self._by_slot(Kind.SEEN, self.seen).values()
        for viewers in groups:
            args: list[Any] = [SEEN_TTL_MS]
            for viewer_id in viewers:
                args += [len(self.seen[viewer_id]), *self.seen[viewer_id]]
            self._script(self.m._seen, [self.m.k(Kind.SEEN, v) for v in viewers], args)
        self._count(len(groups))
        self.seen = {}

    def _by_slot(self, kind: Kind, owners: Iterable[str]) -> dict[int, list[str]]:
        """Owners grouped by the slot of their key of that kind (one group on a single node)."""
        groups: dict[int, list[str]] = {}
        for owner in owners:
            slot = key_slot(self.m.k(kind, owner).encode()) if self.m.cluster else 0
            groups.setdefault(slot, []).append(owner)
        return groups

    def _drain_versions(self) -> None:
        """Each changed author's version grows after their stories' writes (queued before)."""
        for author_id in sorted(self.changed_authors):
            self._script(self.m._bump_version, [self.m.k(Kind.AUTHOR_VERSION, author_id)],
                         [SEEN_TTL_MS])
        self._count(len(self.changed_authors))
        self.changed_authors = set()

    def _drain_trays(self) -> None:
        """One script per slot over the tray writes of that slot's viewers (in chunks, so that a
        large fan-out on one node does not hold the server for one long script)."""
        k = self.m.k
        groups = self._by_slot(Kind.TRAY_ENTRIES, self.trays).values()
        for viewers in (group[i:i + TRAY_SCRIPT_VIEWERS]
                        for group in groups for i in range(0, len(group), TRAY_SCRIPT_VIEWERS)):
            keys: list[str] = []
            args: list[Any] = [SEEN_TTL_MS]
            for number, viewer_id in enumerate(viewers, start=1):
                keys += [k(Kind.TRAY_ORDER, viewer_id), k(Kind.TRAY_ENTRIES, viewer_id),
                         k(Kind.TRAY_VERSIONS, viewer_id)]
                for write in self.trays[viewer_id]:
                    args += [number, *write]
            self._script(self.m._tray, keys, args)
            self._count()
        self.trays = {}

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
    def put_story(self, story: Story, insights_until: int, partition: int) -> None:
        """The story, its ref, and its entry in the expiry index of its lifecycle partition."""
        k = self.m.k
        self._insights_owner(story.story_id, story.author_id, insights_until)
        self.pipe.hset(k(Kind.AUTHOR_PARTITIONS, story.author_id), story.story_id, partition)
        self.pipe.hset(k(Kind.AUTHOR_STORIES, story.author_id), story.story_id, story.to_json())
        keep_until = story.expires_at + EXPIRY_GRACE_MS
        for kind in (Kind.AUTHOR_STORIES, Kind.AUTHOR_PARTITIONS):
            self.pipe.pexpireat(k(kind, story.author_id), keep_until, gt=True)
            self.pipe.pexpireat(k(kind, story.author_id), keep_until, nx=True)
        ref = f"{story.author_id}|{story.expires_at}"
        self.pipe.set(k(Kind.STORY_REF, story.story_id), ref, pxat=story.expires_at)
        self.pipe.zadd(self.m.expiry_index(partition),
                       {f"{story.story_id}|{story.author_id}": story.expires_at})
        self.changed_authors.add(story.author_id)
        self._count(5)

    def drop_story(self, author_id: str, story_id: str, partition: int) -> None:
        k = self.m.k
        self.pipe.hdel(k(Kind.AUTHOR_STORIES, author_id), story_id)
        self.pipe.hdel(k(Kind.AUTHOR_PARTITIONS, author_id), story_id)
        self.pipe.delete(k(Kind.STORY_REF, story_id))
        self.pipe.zrem(self.m.expiry_index(partition), f"{story_id}|{author_id}")
        self.changed_authors.add(author_id)
        self._count(4)

    def keep_insights_owner(self, story_id: str, author_id: str, until_ms: int) -> None:
        """The author may read the story's insights until then (a replay after its expiry)."""
        self._insights_owner(story_id, author_id, until_ms)

    def _insights_owner(self, story_id: str, author_id: str, until_ms: int) -> None:
        """The story's insights owner, and the story in its author's insights set (which lives
        as long as the longest of them, so an erasure finds expired stories too)."""
        k = self.m.k
        self.pipe.set(k(Kind.INSIGHTS_OWNER, story_id), author_id, pxat=until_ms)
        self.pipe.sadd(k(Kind.AUTHOR_INSIGHTS, author_id), story_id)
        self.pipe.pexpireat(k(Kind.AUTHOR_INSIGHTS, author_id), until_ms, gt=True)
        self.pipe.pexpireat(k(Kind.AUTHOR_INSIGHTS, author_id), until_ms, nx=True)
        self._count(4)

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
    def set_tray_entry(self, viewer_id: str, entry: TrayEntry, version: int) -> None:
        """Sent at the flush, one script per slot: written unless a newer version is stored."""
        self.trays.setdefault(viewer_id, []).append(
            [entry.author_id, version, entry.latest_at, entry.to_json()])

    def drop_tray_entry(self, viewer_id: str, author_id: str, version: int | None = None) -> None:
        self.trays.setdefault(viewer_id, []).append(
            [author_id, "" if version is None else version, "", ""])

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
        for friend_id in friends:  # each on the friend's slot, so their erasure finds the list
            self.pipe.sadd(self.m.k(Kind.LISTED_BY, friend_id), user_id)
        self._count(2 + len(friends))

    def drop_close_friend(self, user_id: str, friend_id: str) -> None:
        self.pipe.srem(self.m.k(Kind.CLOSE_FRIENDS, user_id), friend_id)
        self._count()

    def drop_listed_by(self, user_id: str, owner_id: str) -> None:
        self.pipe.srem(self.m.k(Kind.LISTED_BY, user_id), owner_id)
        self._count()

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

    def note_engaged(self, user_id: str, story_id: str, sticker_id: str | None) -> None:
        """Remember, as long as a seen set lives, a story the user reacted to or answered."""
        key = self.m.k(Kind.ENGAGED, user_id)
        self.pipe.sadd(key, engaged_member(story_id, sticker_id))
        self.pipe.pexpire(key, SEEN_TTL_MS)
        self._count(2)

    # -- erasure -----------------------------------------------------------------------------
    def mark_erased(self, user_id: str, at_ms: int) -> None:
        """The erasure record, kept for good: the keyed hash of the id and the instant of the
        first erasure (a second one changes nothing)."""
        self.pipe.set(self.m.erased_key(user_id), at_ms, nx=True)
        self.pipe.zadd(self.m.erasure_index(), {pseudonym(self.m.secret, user_id).hex(): at_ms},
                       nx=True)
        self._count(2)

    def forget_story(self, story_id: str) -> None:
        """A story's ref, insights owner and every counter: one DEL of the story's slot."""
        kinds = (Kind.STORY_REF, Kind.INSIGHTS_OWNER, Kind.VIEW_EVENTS, Kind.VIEWERS,
                 Kind.REPLIES, Kind.REACTION_COUNTS, Kind.REACTORS, Kind.STICKER_COUNTERS,
                 Kind.ANSWERERS)
        self._drain()
        self._command("DEL", *(self.m.k(kind, story_id) for kind in kinds))
        self._count()

    def forget_user(self, user_id: str) -> None:
        """Every key the user owns: one DEL of the user's slot, after what is buffered."""
        kinds = (Kind.AUTHOR_STORIES, Kind.AUTHOR_VERSION, Kind.AUTHOR_INSIGHTS,
                 Kind.AUTHOR_PARTITIONS, Kind.TRAY_ORDER,
                 Kind.TRAY_ENTRIES, Kind.TRAY_VERSIONS, Kind.SEEN, Kind.FOLLOWERS,
                 Kind.FOLLOWING, Kind.CLOSE_FRIENDS, Kind.LISTED_BY, Kind.ENGAGED)
        self._drain()
        self._command("DEL", *(self.m.k(kind, user_id) for kind in kinds))
        self._count()

    def flush(self) -> list[dict[str, Any]]:
        """Send the buffered writes; returns the watched notes whose write changed something."""
        self._drain()
        results = self._execute() if self.size else []
        changed = [note for index, note in self.watched if results and results[index]]
        for index, notes in self.view_watched:
            changed += [note for note, first in zip(notes, results[index], strict=True) if first]
        self.pipe = self.m.client.pipeline(transaction=False)
        self.size = 0
        self.watched, self.view_watched = [], []
        return changed

    def _execute(self) -> list[Any]:
        """Run the pipeline; with a replica wait, return once replicas hold its writes."""
        replicas = self.m.replicas
        if not replicas.wait.replicas:
            return self.pipe.execute()
        if self.m.cluster:
            keys = queued_keys(self.pipe)
            results = self.pipe.execute()
            replicas.fence_cluster(self.m.client, keys)
            return results
        replicas.queue_wait(self.pipe)
        *results, acked = self.pipe.execute()
        replicas.settle(self.m.client, int(acked))
        return results


@dataclass(slots=True)
class _StoryViews:
    """One story's views buffered in a batch: event and viewer pseudonyms, live-feed notes."""

    events: list[bytes] = field(default_factory=list)
    viewers: list[bytes] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    keep_until: int = 0
