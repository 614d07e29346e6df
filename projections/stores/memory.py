"""In-memory stores: the same Protocols and storage semantics as Redis and CQL, in dicts.

They earn their place by passing the contract suite (`tests/contract/`) with the same folds as
the real backends, which makes the folds' rules testable without services and gives later
backends a reference. Expiry follows the clock like the engines' TTLs do: absolute expiry
times, checked on every read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from projections.model import Story, TrayEntry
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
from projections.stores.memory_records import MemoryRecordStore
from projections.stores.redis_dump import ACTIVE_STATE_PARTS
from projections.stores.redis_store import engaged_member, engaged_traces, pseudonym

__all__ = ["MemoryActiveStore", "MemoryRecordStore", "Clock"]

Clock = Callable[[], float]
_COUNTERS = ("view_events", "viewers", "replies", "reactions", "reaction_counts", "answerers",
             "sticker_counters")
_USER_PARTS = ("stories", "insights_index", "story_partitions", "trays", "tray_order", "seen",
               "followers", "following", "close_friends", "listed_by", "engaged")


class MemoryActiveStore:
    """The active store (stories, trays, graph sets, counters) in dicts with expiry times."""

    def __init__(self, secret: bytes, clock: Clock = time.time):
        self.secret = secret
        self.clock = clock
        self.parts: dict[str, dict[Any, Any]] = {part: {} for part in ACTIVE_STATE_PARTS}
        self.expiry: dict[tuple[str, Any], int] = {}  # (part, owner) -> absolute ms
        self.published: list[dict[str, Any]] = []
        # Coordination, not read models (left out of dumps, like Redis's version keys).
        self.author_versions: dict[str, int] = {}
        self.tray_versions: dict[tuple[str, str], int] = {}  # (viewer, author) -> version

    # -- storage -----------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.clock() * 1000)

    def get(self, part: str, owner: Any) -> Any:
        """The live value of one owner's entry in a part, or None."""
        until = self.expiry.get((part, owner))
        if until is not None and until <= self.now():
            self.delete(part, owner)
        return self.parts[part].get(owner)

    def entry(self, part: str, owner: Any, empty: Callable[[], Any]) -> Any:
        value = self.get(part, owner)
        if value is None:
            value = self.parts[part][owner] = empty()
        return value

    def put(self, part: str, owner: Any, value: Any, until: int | None = None) -> None:
        self.parts[part][owner] = value
        self.expiry.pop((part, owner), None)
        if until is not None:
            self.expire_at(part, owner, until)

    def delete(self, part: str, owner: Any) -> None:
        self.parts[part].pop(owner, None)
        self.expiry.pop((part, owner), None)

    def expire_at(self, part: str, owner: Any, until: int) -> None:
        if self.get(part, owner) is None:
            return
        if until <= self.now():
            self.delete(part, owner)
        else:
            self.expiry[(part, owner)] = until

    def discard_empty(self, part: str, owner: Any) -> None:
        if not self.parts[part].get(owner, True):
            self.delete(part, owner)

    # -- reads -------------------------------------------------------------------------------
    def story_refs(self, story_ids: Sequence[str]) -> dict[str, StoryRef | None]:
        return {s: self.get("story_refs", s) for s in story_ids}

    def deleted(self, story_ids: Sequence[str]) -> set[str]:
        return {s for s in story_ids if self.get("deleted", s)}

    def marks(self, looked_up: Sequence[str], posted: Sequence[str],
              users: Sequence[str] = ()) -> BatchMarks:
        return BatchMarks(self.story_refs(looked_up), self.deleted(posted), self.erased(users))

    def authors_stories(self, author_ids: Sequence[str]) -> dict[str, list[Story]]:
        return {a: list((self.get("stories", a) or {}).values()) for a in author_ids}

    def authors_states(self, author_ids: Sequence[str]) -> dict[str, AuthorState]:
        stories = self.authors_stories(author_ids)
        return {a: AuthorState(self.author_versions.get(a, 0), stories[a]) for a in author_ids}

    def followers_of(self, user_ids: Sequence[str]) -> dict[str, set[str]]:
        return {u: set(self.get("followers", u) or ()) for u in user_ids}

    def followers_and_states(self, author_ids: Sequence[str]
                             ) -> tuple[dict[str, set[str]], dict[str, AuthorState]]:
        return self.followers_of(author_ids), self.authors_states(author_ids)

    def follower_counts(self, user_ids: Sequence[str]) -> dict[str, int]:
        return {u: len(self.get("followers", u) or ()) for u in user_ids}

    def celebrities_among(self, user_ids: Sequence[str]) -> set[str]:
        return {u for u in user_ids if self.get("celebrities", u)}

    def insights_owner(self, story_id: str) -> str | None:
        owner: str | None = self.get("insights_owners", story_id)
        return owner

    def counters(self, story_id: str) -> Counters:
        stickers: dict[str, dict[str, float]] = {}
        for key, value in (self.get("sticker_counters", story_id) or {}).items():
            sticker_id, field = key.split(":", 1)
            stickers.setdefault(sticker_id, {})[field] = value
        counts = self.get("reaction_counts", story_id) or {}
        return Counters(len(self.get("view_events", story_id) or ()),
                       len(self.get("viewers", story_id) or ()),
                       len(self.get("replies", story_id) or ()),
                       {e: n for e, n in counts.items() if n > 0}, stickers)

    def erased(self, user_ids: Sequence[str]) -> dict[str, int]:
        found = {u: self.get("erased", pseudonym(self.secret, u).hex()) for u in user_ids}
        return {u: at for u, at in found.items() if at is not None}

    def erased_since(self, since_ms: int) -> dict[str, int]:
        found = self.get("erasure_index", "") or {}
        return {hashed: at for hashed, at in found.items() if at >= since_ms}

    def following_of(self, user_ids: Sequence[str]) -> dict[str, set[str]]:
        return {u: set(self.get("following", u) or ()) for u in user_ids}

    def traces(self, user_id: str) -> UserTraces:
        seen, engaged, insights, listed_by, friends = (
            set(self.get(part, user_id) or ())
            for part in ("seen", "engaged", "insights_index", "listed_by", "close_friends"))
        return engaged_traces(seen, engaged, insights,
                              dict(self.get("story_partitions", user_id) or {}), listed_by,
                              friends)

    def due_expiries(self, partitions: Sequence[int | None], now_ms: int,
                     limit: int) -> list[DueExpiry]:
        """Like the Redis indexes: per partition, earliest first (ties by member), at most `limit`."""
        found = []
        for partition in partitions:
            index = self.get("expiry_index", partition) or {}
            due = sorted((at, story, author) for (story, author), at in index.items() if at <= now_ms)
            found += [DueExpiry(story, author, at, partition) for at, story, author in due[:limit]]
        return found

    def expiry_backlog(self, partitions: Sequence[int | None], now_ms: int) -> int:
        """Like the Redis indexes: every entry due by `now_ms`, uncapped."""
        return sum(at <= now_ms for partition in partitions
                   for at in (self.get("expiry_index", partition) or {}).values())

    def next_expiry(self, partitions: Sequence[int | None], after_ms: int) -> int | None:
        """Like the Redis indexes: the earliest expiry instant later than `after_ms`."""
        return min((at for partition in partitions
                    for at in (self.get("expiry_index", partition) or {}).values()
                    if at > after_ms), default=None)

    def batch(self) -> MemoryActiveWrites:
        return MemoryActiveWrites(self)

    def publish(self, notes: list[dict[str, Any]]) -> None:
        self.published += notes

    def bump_version(self, author_id: str) -> None:
        """Like the Redis script: one more than before, and never below the clock (in µs)."""
        stored = self.author_versions.get(author_id, 0)
        self.author_versions[author_id] = max(stored + 1, self.now() * 1000)

    def newer_tray_write(self, viewer_id: str, author_id: str, version: int | None) -> bool:
        """Whether a tray write of this version applies (None: always), recording it if so."""
        if version is None:
            return True
        if version < self.tray_versions.get((viewer_id, author_id), 0):
            return False
        self.tray_versions[(viewer_id, author_id)] = version
        return True

    def dump(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for part in ACTIVE_STATE_PARTS:
            found = {owner: self.get(part, owner) for owner in list(self.parts[part])}
            found = {owner: value for owner, value in found.items() if value}
            if part == "reaction_counts":
                found = {o: {e: n for e, n in v.items() if n > 0} for o, v in found.items()}
                found = {o: v for o, v in found.items() if v}
            if part in ("deleted", "celebrities"):
                state[part] = set(found)
            else:
                state[part] = {o: _copy(v) for o, v in found.items()}
        return {part: value for part, value in state.items() if value}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    return value


class MemoryActiveWrites:
    """Applies each write at `flush()`, in order, like one Redis pipeline."""

    def __init__(self, store: MemoryActiveStore):
        self.s = store
        self.pending: list[Callable[[], dict[str, Any] | None]] = []

    def flush(self) -> list[dict[str, Any]]:
        notes = [note for apply in self.pending if (note := apply()) is not None]
        self.pending = []
        return notes

    def _later(self, apply: Callable[[], dict[str, Any] | None]) -> None:
        self.pending.append(apply)

    # -- stories -----------------------------------------------------------------------------
    def put_story(self, story: Story, insights_until: int, partition: int) -> None:
        def apply() -> None:
            s = self.s
            self._insights_owner(story.story_id, story.author_id, insights_until)
            keep_until = story.expires_at + EXPIRY_GRACE_MS
            for part, value in (("stories", story), ("story_partitions", partition)):
                s.entry(part, story.author_id, dict)[story.story_id] = value
                hash_until = s.expiry.get((part, story.author_id), 0)
                s.expire_at(part, story.author_id, max(keep_until, hash_until))
            s.put("story_refs", story.story_id, StoryRef(story.author_id, story.expires_at),
                  story.expires_at)
            s.entry("expiry_index", partition, dict)[(story.story_id, story.author_id)] = (
                story.expires_at)
            s.bump_version(story.author_id)
        self._later(apply)

    def drop_story(self, author_id: str, story_id: str, partition: int) -> None:
        def apply() -> None:
            stories = self.s.get("stories", author_id)
            if stories is not None:
                stories.pop(story_id, None)
                self.s.discard_empty("stories", author_id)
            (self.s.get("story_partitions", author_id) or {}).pop(story_id, None)
            self.s.discard_empty("story_partitions", author_id)
            self.s.delete("story_refs", story_id)
            (self.s.get("expiry_index", partition) or {}).pop((story_id, author_id), None)
            self.s.discard_empty("expiry_index", partition)
            self.s.bump_version(author_id)
        self._later(apply)

    def keep_insights_owner(self, story_id: str, author_id: str, until_ms: int) -> None:
        self._later(lambda: self._insights_owner(story_id, author_id, until_ms))

    def _insights_owner(self, story_id: str, author_id: str, until_ms: int) -> None:
        """Like Redis: the owner, and the story in its author's insights set (longest expiry)."""
        s = self.s
        s.put("insights_owners", story_id, author_id, until_ms)
        s.entry("insights_index", author_id, set).add(story_id)
        s.expire_at("insights_index", author_id,
                    max(until_ms, s.expiry.get(("insights_index", author_id), 0)))

    def mark_deleted(self, story_id: str, until_ms: int) -> None:
        def apply() -> None:
            self.s.put("deleted", story_id, True, until_ms)
            self.s.delete("insights_owners", story_id)
        self._later(apply)
        self.clear_counters(story_id)

    def clear_counters(self, story_id: str) -> None:
        def apply() -> None:
            for part in _COUNTERS:
                self.s.delete(part, story_id)
        self._later(apply)

    # -- trays -------------------------------------------------------------------------------
    def set_tray_entry(self, viewer_id: str, entry: TrayEntry, version: int) -> None:
        def apply() -> None:
            if not self.s.newer_tray_write(viewer_id, entry.author_id, version):
                return
            self.s.entry("tray_order", viewer_id, dict)[entry.author_id] = entry.latest_at
            self.s.entry("trays", viewer_id, dict)[entry.author_id] = entry
        self._later(apply)

    def drop_tray_entry(self, viewer_id: str, author_id: str, version: int | None = None) -> None:
        def apply() -> None:
            if not self.s.newer_tray_write(viewer_id, author_id, version):
                return
            for part in ("tray_order", "trays"):
                (self.s.get(part, viewer_id) or {}).pop(author_id, None)
                self.s.discard_empty(part, viewer_id)
        self._later(apply)

    # -- follow graph ------------------------------------------------------------------------
    def follow(self, follower_id: str, followee_id: str) -> None:
        self._later(lambda: self._member("followers", followee_id, follower_id, True))
        self._later(lambda: self._member("following", follower_id, followee_id, True))

    def unfollow(self, follower_id: str, followee_id: str) -> None:
        self._later(lambda: self._member("followers", followee_id, follower_id, False))
        self._later(lambda: self._member("following", follower_id, followee_id, False))

    def set_celebrity(self, user_id: str, is_celebrity: bool) -> None:
        def apply() -> None:
            if is_celebrity:
                self.s.put("celebrities", user_id, True)
            else:
                self.s.delete("celebrities", user_id)
        self._later(apply)

    def set_close_friends(self, user_id: str, friend_ids: Iterable[str]) -> None:
        friends = set(friend_ids)

        def apply() -> None:
            self.s.put("close_friends", user_id, set(friends))
            for friend_id in friends:
                self.s.entry("listed_by", friend_id, set).add(user_id)
        self._later(apply)

    def drop_close_friend(self, user_id: str, friend_id: str) -> None:
        self._later(lambda: self._member("close_friends", user_id, friend_id, False))

    def drop_listed_by(self, user_id: str, owner_id: str) -> None:
        self._later(lambda: self._member("listed_by", user_id, owner_id, False))

    def _member(self, part: str, owner: str, member: str, present: bool) -> None:
        if present:
            self.s.entry(part, owner, set).add(member)
        else:
            (self.s.get(part, owner) or set()).discard(member)
            self.s.discard_empty(part, owner)

    # -- engagement --------------------------------------------------------------------------
    def view(self, story_id: str, viewer_id: str, event_id: str, at_ms: int,
             keep_until: int) -> None:
        def apply() -> dict[str, Any] | None:
            s = self.s
            s.entry("view_events", story_id, set).add(self._hash(event_id))
            viewers = s.entry("viewers", story_id, set)
            first = self._hash(viewer_id) not in viewers
            viewers.add(self._hash(viewer_id))
            s.expire_at("view_events", story_id, keep_until)
            s.expire_at("viewers", story_id, keep_until)
            return ({"type": "view", "story_id": story_id, "user_id": viewer_id, "at": at_ms}
                    if first else None)
        self._later(apply)

    def mark_seen(self, viewer_id: str, story_id: str) -> None:
        def apply() -> None:
            self.s.entry("seen", viewer_id, set).add(story_id)
            self.s.expire_at("seen", viewer_id, self.s.now() + SEEN_TTL_MS)
        self._later(apply)

    def reply(self, story_id: str, event_id: str) -> None:
        self._later(lambda: self.s.entry("replies", story_id, set).add(self._hash(event_id)))

    def react(self, story_id: str, user_id: str, at_ms: int, emoji: str, keep_until: int) -> None:
        def apply() -> dict[str, Any] | None:
            s, who = self.s, self._hash(user_id)
            previous = (s.get("reactions", story_id) or {}).get(who)
            if previous is not None and previous[0] >= at_ms:
                return None  # an older or repeated reaction changes nothing
            counts = s.entry("reaction_counts", story_id, dict)
            if previous is not None:
                counts[previous[1]] = counts.get(previous[1], 0) - 1
            s.entry("reactions", story_id, dict)[who] = (at_ms, emoji)
            counts[emoji] = counts.get(emoji, 0) + 1
            s.expire_at("reactions", story_id, keep_until)
            s.expire_at("reaction_counts", story_id, keep_until)
            return {"type": "reaction", "story_id": story_id, "user_id": user_id, "emoji": emoji,
                    "at": at_ms}
        self._later(apply)

    def answer(self, story_id: str, sticker_id: str, user_id: str,
               increments: dict[str, float], keep_until: int) -> None:
        def apply() -> dict[str, Any] | None:
            s, who = self.s, self._hash(f"{sticker_id}:{user_id}")
            answerers = s.entry("answerers", story_id, set)
            if who in answerers:
                return None  # the first answer counts
            answerers.add(who)
            counters = s.entry("sticker_counters", story_id, dict)
            for name, amount in increments.items():
                key = f"{sticker_id}:{name}"
                counters[key] = counters.get(key, 0.0) + float(amount)
            s.expire_at("answerers", story_id, keep_until)
            s.expire_at("sticker_counters", story_id, keep_until)
            return {"type": "answer", "story_id": story_id, "sticker_id": sticker_id,
                    "user_id": user_id}
        self._later(apply)

    def keep_replies_until(self, story_id: str, keep_until: int) -> None:
        self._later(lambda: self.s.expire_at("replies", story_id, keep_until))

    def note_engaged(self, user_id: str, story_id: str, sticker_id: str | None) -> None:
        def apply() -> None:
            self.s.entry("engaged", user_id, set).add(engaged_member(story_id, sticker_id))
            self.s.expire_at("engaged", user_id, self.s.now() + SEEN_TTL_MS)
        self._later(apply)

    # -- erasure -----------------------------------------------------------------------------
    def mark_erased(self, user_id: str, at_ms: int) -> None:
        def apply() -> None:
            if self.s.get("erased", self._hash(user_id)) is None:  # the first erasure stays
                self.s.put("erased", self._hash(user_id), at_ms)
                self.s.entry("erasure_index", "", dict)[self._hash(user_id)] = at_ms
        self._later(apply)

    def forget_story(self, story_id: str) -> None:
        def apply() -> None:
            for part in ("story_refs", "insights_owners", *_COUNTERS):
                self.s.delete(part, story_id)
        self._later(apply)

    def forget_user(self, user_id: str) -> None:
        def apply() -> None:
            for part in _USER_PARTS:
                self.s.delete(part, user_id)
            self.s.author_versions.pop(user_id, None)
            for key in [k for k in self.s.tray_versions if k[0] == user_id]:
                del self.s.tray_versions[key]
        self._later(apply)

    def _hash(self, value: str) -> str:
        return pseudonym(self.s.secret, value).hex()

