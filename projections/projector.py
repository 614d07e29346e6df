"""Folds batches of decoded events into the read models, with batched, idempotent writes.

One method per topic family. Each loads the state it needs in one round trip, folds the batch
in memory with the pure rules of `projections.model`, then flushes one Redis pipeline and one
concurrent CQL batch. Processing any prefix of the log twice leaves the state it left once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.clock import to_ms
from projections.highlights import fold_highlight
from projections.model import (
    Story,
    TrayEntry,
    story_from_posted,
    tray_entry,
    with_media,
    with_rejection,
)
from projections.stores.cql_store import CqlBatch, CqlReadModels
from projections.stores.redis_store import (
    EXPIRY_GRACE_MS,
    SEEN_TTL_MS,
    RedisBatch,
    RedisReadModels,
    StoryRef,
)

__all__ = ["Projector", "ProjectionPolicy", "ProjectionRejected", "Event"]

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]
MAX_LIFETIME_MS = 48 * 3600 * 1000
DAY_MS = 86_400_000


class ProjectionRejected(ValueError):
    """An event that is well-formed but impossible against the read models."""


@dataclass(frozen=True)
class ProjectionPolicy:
    """The knobs of the fold."""

    fanout_threshold: int = 10_000
    insights_days: int = 30

    @property
    def insights_ms(self) -> int:
        return self.insights_days * DAY_MS


def _ttl_seconds(expires_at_ms: int, now_ms: int) -> int:
    return max(0, (expires_at_ms - now_ms + 999) // 1000)


class Projector:
    """Applies event batches to one read-model version (Redis prefix + CQL keyspace)."""

    def __init__(
        self,
        redis_models: RedisReadModels,
        cql_models: CqlReadModels,
        policy: ProjectionPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_expired: Callable[[float], None] | None = None,
        live_notifications: bool = False,
    ):
        self.redis = redis_models
        self.cql = cql_models
        self.policy = policy or ProjectionPolicy()
        self.clock = clock
        self.on_expired = on_expired  # observes expiry lag in seconds (live workers only)
        self.live_notifications = live_notifications  # never during a replay

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- story lifecycle ---------------------------------------------------------------------
    def apply_lifecycle(self, events: Sequence[Event]) -> list[tuple[int, str]]:
        """Posts, media outcomes, deletions and expiries; returns the rejected (index, reason)."""
        run = _LifecycleRun(self)
        run.prefetch(events)
        rejected = []
        for index, (name, record) in enumerate(events):
            try:
                run.apply(name, record)
            except ProjectionRejected as error:
                rejected.append((index, str(error)))
        run.flush()
        return rejected

    # -- engagement --------------------------------------------------------------------------
    def apply_engagement(self, events: Sequence[Event]) -> list[tuple[int, str]]:
        """Views, reactions, sticker answers and replies, exact under redelivery."""
        story_ids = list({record["story_id"] for _, record in events})
        refs = self.redis.story_refs(story_ids)
        gone = self.redis.deleted(story_ids)
        now = self.now_ms()
        rb, cb = self.redis.batch(), self.cql.batch()
        keep: dict[str, int] = {}
        replied: set[str] = set()
        for name, record in events:
            story_id = record["story_id"]
            at = to_ms(record["occurred_at"])
            if name == "StoryViewed" and at + SEEN_TTL_MS > now:
                # Seen-ness does not depend on the story's fate, so order cannot change it.
                rb.mark_seen(record["actor_id"], story_id)
            if story_id in gone:
                continue
            ref = refs.get(story_id)
            expires = ref.expires_at if ref else at + MAX_LIFETIME_MS
            keep_until = expires + self.policy.insights_ms
            if keep_until <= now:
                continue
            keep[story_id] = max(keep.get(story_id, 0), keep_until)
            if name == "StoryReplied":
                replied.add(story_id)
            identity_ttl = _ttl_seconds(expires, now)
            _ENGAGEMENT[name](rb, cb, record, at, identity_ttl, keep_until)
        for story_id in replied:
            rb.keep_replies_until(story_id, keep[story_id])
        cb.flush()
        first_time = rb.flush()
        self._undo_if_deleted_meanwhile(list(keep))
        if self.live_notifications and first_time:
            rb.publish(first_time)
        return []

    def _undo_if_deleted_meanwhile(self, story_ids: list[str]) -> None:
        """A deletion folded concurrently (another agent or worker) may have cleared the
        counters just before this batch wrote them: look again and clear them after it."""
        deleted = self.redis.deleted(story_ids)
        if deleted:
            rb = self.redis.batch()
            for story_id in deleted:
                rb.clear_counters(story_id)
            rb.flush()

    # -- social graph ------------------------------------------------------------------------
    def apply_graph(self, events: Sequence[Event]) -> list[tuple[int, str]]:
        """Follows, unfollows, close friends; a new follow brings the followee into the tray.

        The batch's graph writes go out in order in one pipeline and one CQL flush; then each
        pair whose last event here is a follow gets its tray backfilled.
        """
        rb, cb = self.redis.batch(), self.cql.batch()
        last: dict[tuple[str, str], str] = {}
        for name, record in events:
            at, actor = to_ms(record["occurred_at"]), record["actor_id"]
            if name == "CloseFriendsChanged":
                rb.set_close_friends(actor, record["close_friend_ids"])
                cb.close_friends(actor, record["close_friend_ids"], at)
                continue
            followee = record["followee_id"]
            if name == "UserFollowed":
                rb.follow(actor, followee)
                cb.follow(actor, followee, at)
            else:
                rb.unfollow(actor, followee)
                rb.drop_tray_entry(actor, followee)
                cb.unfollow(actor, followee, at)
            last[(actor, followee)] = name
        cb.flush()
        rb.flush()
        self._after_follows([pair for pair, name in last.items() if name == "UserFollowed"])
        return []

    # -- highlights --------------------------------------------------------------------------
    def apply_highlights(self, events: Sequence[Event]) -> list[tuple[int, str]]:
        """Highlight edits; a story leaving its last highlight after expiry is gone."""
        for name, record in events:
            owner, highlight_id = record["actor_id"], record["highlight_id"]
            before = self.cql.highlight(owner, highlight_id)
            after = fold_highlight(before, name, record)
            if after == before:
                continue
            at = to_ms(record["occurred_at"])
            cb = self.cql.batch()
            if after is None:
                cb.delete_highlight(owner, highlight_id, at)
            else:
                cb.put_highlight(after, at)
            old_ids = set(before.story_ids) if before else set()
            new_ids = set(after.story_ids) if after else set()
            for story_id in new_ids - old_ids:
                cb.add_member(story_id, highlight_id, at)
            for story_id in old_ids - new_ids:
                cb.drop_member(story_id, highlight_id, at)
            cb.flush()
            self._release_unheld(old_ids - new_ids)
        return []

    def _release_unheld(self, story_ids: set[str]) -> None:
        """Stories no highlight holds any more lose their kept copy."""
        cb = self.cql.batch()
        for story_id in story_ids:
            if not self.cql.highlight_ids_holding(story_id):
                cb.unkeep(story_id)
        cb.flush()

    def _after_follows(self, pairs: list[tuple[str, str]]) -> None:
        """Backfill new followers' trays, then look again in case a post raced the follows.

        An author who drops to the threshold stops being pulled at read time, so every one of
        their followers gets the entry pushed now, not only the new ones.
        """
        if not pairs:
            return
        pushed, demoted = self._mark_celebrities(sorted({followee for _, followee in pairs}))
        pairs = [(follower, followee) for follower, followee in pairs if followee in pushed]
        if demoted:
            followers = self.redis.followers_of(sorted(demoted))
            pairs = list(dict.fromkeys(pairs + [(follower, author) for author in sorted(demoted)
                                                for follower in sorted(followers[author])]))
        rb, written = self.redis.batch(), {}
        for look in range(2):  # the second look sees any story change that raced the first
            stories = self.redis.authors_stories(sorted({followee for _, followee in pairs}))
            now = self.now_ms()
            for pair in pairs:
                entry = tray_entry(stories[pair[1]], pair[0], True, now)
                if look and entry == written[pair]:
                    continue
                _put_entry(rb, pair[0], pair[1], entry)
                written[pair] = entry
            rb.flush()

    def _mark_celebrities(self, followees: list[str]) -> tuple[set[str], set[str]]:
        """Flag authors above the fan-out threshold. Returns the others (their trays are pushed)
        and, among them, those who were flagged until now."""
        counts = self.redis.follower_counts(followees)
        flagged = self.redis.celebrities_among(followees)
        rb = self.redis.batch()
        for followee in followees:
            rb.set_celebrity(followee, counts[followee] > self.policy.fanout_threshold)
        rb.flush()
        pushed = {f for f in followees if counts[f] <= self.policy.fanout_threshold}
        return pushed, pushed & flagged


def _put_entry(rb: RedisBatch, viewer_id: str, author_id: str, entry: TrayEntry | None) -> None:
    if entry is None:
        rb.drop_tray_entry(viewer_id, author_id)
    else:
        rb.set_tray_entry(viewer_id, entry)


def _set_or_drop(rb: RedisBatch, viewer_id: str, author_id: str, stories, now: int) -> None:
    _put_entry(rb, viewer_id, author_id, tray_entry(stories, viewer_id, True, now))


def _tray_entries(stories: list[Story], followers: set[str], now: int
                  ) -> Iterator[tuple[str, TrayEntry | None]]:
    """Each follower's entry; those no audience list names all get the same one, computed once."""
    named = set().union(*(s.audience_ids for s in stories), (s.author_id for s in stories))
    shared = tray_entry(stories, "", True, now)  # "" is no user: named by no audience
    for follower_id in followers:
        if follower_id in named:
            yield follower_id, tray_entry(stories, follower_id, True, now)
        else:
            yield follower_id, shared


_LOOKED_UP = frozenset({"MediaProcessed", "MediaRejected", "StoryDeleted"})
_AUTHORED = frozenset({"StoryPosted", "StoryDeleted", "StoryExpired"})


class _LifecycleRun:
    """One batch of lifecycle events folded over the authors' stories held in memory."""

    def __init__(self, projector: Projector):
        self.p = projector
        self.now = projector.now_ms()
        self.rb, self.cb = projector.redis.batch(), projector.cql.batch()
        self.stories: dict[str, dict[str, Story]] = {}
        self.changed_authors: set[str] = set()
        self.authors: dict[str, str] = {}  # story -> author, for stories stored in this batch
        self.gone: set[str] = set()  # posted stories already deleted, read before the batch
        self.refs: dict[str, StoryRef | None] = {}

    def prefetch(self, events: Sequence[Event]) -> None:
        """The batch's reads in three round trips instead of a few per event."""
        posted = [r["story_id"] for name, r in events if name == "StoryPosted"]
        self.gone = self.p.redis.deleted(posted)
        looked_up = [r["story_id"] for name, r in events if name in _LOOKED_UP]
        self.refs = self.p.redis.story_refs(looked_up)
        authors = {r["author_id"] if name == "StoryExpired" else r["actor_id"]
                   for name, r in events if name in _AUTHORED}
        authors |= {ref.author_id for ref in self.refs.values() if ref is not None}
        found = self.p.redis.authors_stories(sorted(authors))
        self.stories.update({a: {s.story_id: s for s in found[a]} for a in found})

    def _author_stories(self, author_id: str) -> dict[str, Story]:
        if author_id not in self.stories:
            found = self.p.redis.author_stories(author_id)
            self.stories[author_id] = {s.story_id: s for s in found}
        return self.stories[author_id]

    def _find(self, story_id: str, author_id: str | None) -> Story | None:
        author_id = author_id or self.authors.get(story_id)
        if author_id is None:
            if story_id not in self.refs:
                self.refs.update(self.p.redis.story_refs([story_id]))
            ref = self.refs[story_id]
            author_id = ref.author_id if ref else None
        if author_id is None:
            return None
        return self._author_stories(author_id).get(story_id)

    def apply(self, name: str, record: dict[str, Any]) -> None:
        getattr(self, f"_on_{name}")(record)

    def _store(self, story: Story) -> None:
        self._author_stories(story.author_id)[story.story_id] = story
        self.authors[story.story_id] = story.author_id
        self.rb.put_story(story, story.expires_at + self.p.policy.insights_ms)
        self.cb.put_story(story, _ttl_seconds(story.expires_at + EXPIRY_GRACE_MS, self.now))
        self.changed_authors.add(story.author_id)

    def _on_StoryPosted(self, record: dict[str, Any]) -> None:  # noqa: N802
        story = story_from_posted(record)
        if story.story_id in self.gone:
            return  # a deletion already seen wins over a late or replayed post
        if story.is_live(self.now):
            self._store(story)
        elif self.p.cql.highlight_ids_holding(story.story_id):
            self.cb.keep(story)  # replay: an expired story that a highlight still holds
        # else: replay of an expired story; it must not come back

    def _on_MediaProcessed(self, record: dict[str, Any]) -> None:  # noqa: N802
        self._update_media(record, with_media)

    def _on_MediaRejected(self, record: dict[str, Any]) -> None:  # noqa: N802
        self._update_media(record, with_rejection)

    def _update_media(self, record: dict[str, Any], change) -> None:
        story_id = record["story_id"]
        story = self._find(story_id, None)
        if story is not None and story.is_live(self.now):
            self._store(change(story, record))
            return
        kept = self.p.cql.kept_stories([story_id]).get(story_id)
        if kept is not None:
            self.cb.keep(change(kept, record))

    def _on_StoryDeleted(self, record: dict[str, Any]) -> None:  # noqa: N802
        story_id, author_id = record["story_id"], record["actor_id"]
        known = self._find(story_id, None)
        if known is not None and known.author_id != author_id:
            raise ProjectionRejected(f"actor_id: {author_id} is not the author of {story_id}")
        until = to_ms(record["occurred_at"]) + MAX_LIFETIME_MS + self.p.policy.insights_ms
        self.rb.mark_deleted(story_id, until)
        self._remove(author_id, story_id)
        self.cb.delete_story(story_id)
        self._leave_highlights(author_id, story_id, to_ms(record["occurred_at"]))

    def _on_StoryExpired(self, record: dict[str, Any]) -> None:  # noqa: N802
        story_id, author_id = record["story_id"], record["author_id"]
        story = self._find(story_id, author_id)
        if story is not None and self.p.cql.highlight_ids_holding(story_id):
            self.cb.keep(story)  # a highlight keeps it past its 24 hours
        self._remove(author_id, story_id)
        self.cb.expire_story(story_id)
        if self.p.on_expired is not None:
            self.p.on_expired((self.now - to_ms(record["expires_at"])) / 1000)

    def _leave_highlights(self, owner_id: str, story_id: str, at: int) -> None:
        """A deleted story leaves every highlight of its author and loses its kept copy."""
        for highlight_id in self.p.cql.highlight_ids_holding(story_id):
            highlight = self.p.cql.highlight(owner_id, highlight_id)
            if highlight is not None:
                ids = tuple(s for s in highlight.story_ids if s != story_id)
                self.cb.put_highlight(replace(highlight, story_ids=ids, updated_at=at), at)
            self.cb.drop_member(story_id, highlight_id, at)
        self.cb.unkeep(story_id)

    def _remove(self, author_id: str, story_id: str) -> None:
        self._author_stories(author_id).pop(story_id, None)
        self.rb.drop_story(author_id, story_id)
        self.changed_authors.add(author_id)

    def _refresh_trays(self, author_id: str, followers: set[str]) -> None:
        """Push the author's current state into each follower's tray (below the threshold)."""
        celebrity = len(followers) > self.p.policy.fanout_threshold
        self.rb.set_celebrity(author_id, celebrity)
        if celebrity:
            return
        stories = list(self._author_stories(author_id).values())
        for follower_id, entry in _tray_entries(stories, followers, self.now):
            _put_entry(self.rb, follower_id, author_id, entry)

    def flush(self) -> None:
        """Stories first, then trays, then a second look at the followers.

        A follow or unfollow handled concurrently (another agent or worker) either sees the
        stories written here or is seen by the second look, so no tray entry is lost or left.
        """
        self.cb.flush()
        self.rb.flush()
        authors = sorted(self.changed_authors)
        followers = self.p.redis.followers_of(authors)
        for author_id in authors:
            self._refresh_trays(author_id, followers[author_id])
        self.rb.flush()
        again = self.p.redis.followers_of(authors)
        for author_id in authors:
            for gone in followers[author_id] - again[author_id]:
                self.rb.drop_tray_entry(gone, author_id)
        self.rb.flush()


def _on_view(rb: RedisBatch, cb: CqlBatch, r: dict[str, Any], at: int, ttl: int, keep: int):
    rb.view(r["story_id"], r["actor_id"], r["event_id"], at, keep)
    if ttl:
        cb.view(r["story_id"], r["actor_id"], at, ttl)


def _on_reaction(rb: RedisBatch, cb: CqlBatch, r: dict[str, Any], at: int, ttl: int, keep: int):
    rb.react(r["story_id"], r["actor_id"], at, r["emoji"], keep)
    if ttl:
        cb.react(r["story_id"], r["actor_id"], r["emoji"], at, ttl)


def _on_answer(rb: RedisBatch, cb: CqlBatch, r: dict[str, Any], at: int, ttl: int, keep: int):
    rb.answer(r["story_id"], r["sticker_id"], r["actor_id"], _answer_increments(r), keep)
    if ttl and r.get("text") is not None:
        cb.answer(r, at, ttl)


def _on_reply(rb: RedisBatch, cb: CqlBatch, r: dict[str, Any], at: int, ttl: int, keep: int):
    rb.reply(r["story_id"], r["event_id"])


def _answer_increments(record: dict[str, Any]) -> dict[str, float]:
    """What one answer adds to its sticker's tallies."""
    if record.get("option_index") is not None:
        return {f"o{record['option_index']}": 1, "n": 1}
    if record.get("slider_value") is not None:
        return {"n": 1, "sum": record["slider_value"]}
    return {"n": 1}


_ENGAGEMENT: dict[str, Callable[..., None]] = {
    "StoryViewed": _on_view,
    "StoryReacted": _on_reaction,
    "StickerAnswered": _on_answer,
    "StoryReplied": _on_reply,
}
