"""Folds batches of decoded events into the read models: prefetch -> fold -> flush.

For each topic family the projector reads the snapshot its fold asks for in a few batched
reads, runs the pure fold (`projections.folds`), then flushes the writes: one buffered writer
per store. Where a concurrent batch (another agent or worker) could race a write, a second
short read -> fold -> flush looks again. Processing any prefix of the log twice leaves the state
it left once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from core.clock import to_ms
from projections.folds import engagement, erasure, graph, highlights, lifecycle
from projections.folds.policy import Event, ProjectionPolicy, ProjectionRejected
from projections.folds.writes import Writes
from projections.stores.base import ActiveStore, RecordStore

__all__ = ["Projector", "ProjectionPolicy", "ProjectionRejected", "Event", "FOLDS"]

log = logging.getLogger(__name__)

# Record-store reads made while the active store is read (sessions are thread-safe).
_RECORD_READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="record-reads")

T = TypeVar("T")

Rejected = list[tuple[int, str]]
# story id -> posting time in, story id -> wrapped media key out (projections.stores.story_keys)
StoryKeySource = Callable[[Mapping[str, int]], dict[str, bytes]]


class Projector:
    """Applies event batches to one read-model version (an active store and a record store)."""

    def __init__(
        self,
        redis_models: ActiveStore,
        cql_models: RecordStore,
        policy: ProjectionPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_expired: Callable[[float], None] | None = None,
        live_feed: bool = False,
        story_keys: StoryKeySource | None = None,
    ):
        self.redis = redis_models
        self.cql = cql_models
        self.policy = policy or ProjectionPolicy()
        self.clock = clock
        self.on_expired = on_expired  # observes expiry lag in seconds (running workers only, never a replay)
        self.live_feed = live_feed  # never during a replay
        self.story_keys = story_keys  # None: read models without media keys (tests, bench)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def apply(self, topic_suffix: str, events: Sequence[Event], partitions: Sequence[int]
              ) -> Rejected:
        """Fold a batch of one input topic, each event with the partition it was read from;
        returns the rejected (index, reason)."""
        return FOLDS[topic_suffix](self, events, partitions)

    def flush(self, writes: Writes) -> list[dict[str, Any]]:
        """Send a fold's writes: the record store first, then the active store."""
        if not writes:
            return []
        active, record = self.redis.batch(), self.cql.batch()
        writes.replay_onto(active, record)
        record.flush()
        return active.flush()

    # -- story lifecycle ---------------------------------------------------------------------
    def apply_lifecycle(self, events: Sequence[Event], partitions: Sequence[int] | None = None
                        ) -> Rejected:
        """Posts, media outcomes, deletions and expiries, then the followers' trays.

        `partitions`: where each event was read from; a story is indexed for expiry under its
        partition (None: partition 0, for events that come from no topic).
        """
        now = self.now_ms()
        result = lifecycle.fold_lifecycle(events, self._lifecycle_snapshot(events, now), now,
                                          self.policy, partitions)
        self.flush(result.writes)
        if self.live_feed and result.ended:  # the author's feed ends now, not at its keep-alive
            self.redis.publish(lifecycle.ended_notes(result.ended))
        self._fan_out(result.changed_authors)
        if self.on_expired is not None:
            for lag in result.expired_lags_s:
                self.on_expired(lag)
        return result.rejected

    def _lifecycle_snapshot(self, events: Sequence[Event], now: int) -> lifecycle.LifecycleSnapshot:
        """The batch's reads in a few round trips instead of a few per event; the record
        store's first read goes on beside the active store's, which it does not depend on."""
        needs = lifecycle.needs(events, now)
        holders_read = _beside(self.cql.highlight_ids_holding_each, needs.held)
        marks = self.redis.marks(needs.looked_up, needs.posted, erasure.users_named(events))
        refs = marks.refs
        authors = needs.authors | {ref.author_id for ref in refs.values() if ref is not None}
        stories = self.redis.authors_stories(sorted(authors))
        kept = self.cql.kept_stories(lifecycle.kept_needed(events, stories, now))
        holders = holders_read.result()
        return lifecycle.LifecycleSnapshot(
            deleted=marks.deleted,
            refs=refs,
            stories=stories,
            holders=holders,
            highlights=self.cql.highlights(lifecycle.deleted_highlights(events, holders)),
            kept=kept,
            media_keys=self._media_keys(lifecycle.media_keys_needed(events, stories, kept)),
            erased=marks.erased,
        )

    def _media_keys(self, posted_at: Mapping[str, int]) -> Mapping[str, bytes]:
        return self.story_keys(posted_at) if self.story_keys and posted_at else {}

    def _fan_out(self, authors: list[str]) -> None:
        """Trays after the stories; a second look at the followers catches a racing unfollow.

        A follow or unfollow handled concurrently (another agent or worker) either sees the
        stories written before or is seen by the second look, so no tray entry is lost or left.
        """
        # Read back after the flush: another worker may have changed the same authors meanwhile.
        followers, states = self.redis.followers_and_states(authors)
        self.flush(lifecycle.fold_tray_fanout(states, followers, self.now_ms(), self.policy))
        again = self.redis.followers_of(authors)
        self.flush(lifecycle.fold_unfollowed_meanwhile(followers, again))

    # -- engagement --------------------------------------------------------------------------
    def apply_engagement(self, events: Sequence[Event], partitions: Sequence[int] | None = None
                         ) -> Rejected:
        """Views, reactions, sticker answers and replies, exact under redelivery."""
        story_ids = engagement.story_ids_of(events)
        marks = self.redis.marks(story_ids, story_ids, erasure.users_named(events))
        snapshot = engagement.EngagementSnapshot(marks.refs, marks.deleted, marks.erased)
        result = engagement.fold_engagement(events, snapshot, self.now_ms(), self.policy)
        first_time = self.flush(result.writes)
        self.flush(engagement.fold_deleted_meanwhile(self.redis.deleted(result.counted)))
        if result.unnamed:
            first_time = [n for n in first_time if n.get("user_id") not in result.unnamed]
        if self.live_feed and first_time:
            self.redis.publish(first_time)
        return []

    # -- social graph ------------------------------------------------------------------------
    def apply_graph(self, events: Sequence[Event], partitions: Sequence[int] | None = None
                    ) -> Rejected:
        """Follows, unfollows, close friends, erasures; a new follow brings the followee into the
        tray. Each erasure is folded from what the events before it left."""
        for run in erasure.segments(events):
            name, record = run[0]
            if name == erasure.ERASURE:
                self._erase(record["actor_id"], to_ms(record["occurred_at"]))
                continue
            result = graph.fold_graph(run, self.redis.erased(erasure.users_named(run)))
            self.flush(result.writes)
            self._after_follows(result.followed)
        return []

    def _erase(self, user_id: str, at: int) -> None:
        """Every read model drops the user; the erasure record stays."""
        snapshot = erasure.ErasureSnapshot(
            stories=self.redis.authors_stories([user_id])[user_id],
            followers=self.redis.followers_of([user_id])[user_id],
            following=self.redis.following_of([user_id])[user_id],
            traces=self.redis.traces(user_id),
            highlights=self.cql.highlights_of(user_id),
        )
        self.flush(erasure.fold_erasure(user_id, at, snapshot))

    def _after_follows(self, followed: list[tuple[str, str]]) -> None:
        """Backfill new followers' trays, then look again in case a post raced the follows."""
        if not followed:
            return
        followees = sorted({followee for _, followee in followed})
        flags = graph.fold_celebrity_flags(self.redis.follower_counts(followees),
                                           self.redis.celebrities_among(followees), self.policy)
        self.flush(flags.writes)
        demoted = self.redis.followers_of(sorted(flags.demoted)) if flags.demoted else {}
        pairs = graph.pairs_to_push(followed, flags.pushed, demoted)
        authors = sorted({followee for _, followee in pairs})
        written = None
        for _look in range(2):  # the second look sees any story change that raced the first
            writes, written = graph.fold_follow_trays(pairs, self.redis.authors_states(authors),
                                                      self.now_ms(), written)
            self.flush(writes)

    # -- highlights --------------------------------------------------------------------------
    def apply_highlights(self, events: Sequence[Event], partitions: Sequence[int] | None = None
                         ) -> Rejected:
        """Highlight edits; a story leaving its last highlight after expiry is gone."""
        current = self.cql.highlights(highlights.highlight_keys(events))
        result = highlights.fold_highlights(events, current,
                                            self.redis.erased(erasure.users_named(events)))
        self.flush(result.writes)
        if result.released:
            holders = self.cql.highlight_ids_holding_each(sorted(result.released))
            self.flush(highlights.fold_unheld(holders))
        return []


# Each fold takes the batch and the partition of each event (only the lifecycle uses it).
FOLDS: dict[str, Callable[[Projector, Sequence[Event], Sequence[int] | None], Rejected]] = {
    "story-lifecycle": Projector.apply_lifecycle,
    "engagement": Projector.apply_engagement,
    "social-graph": Projector.apply_graph,
    "highlights": Projector.apply_highlights,
}


def _beside(read: Callable[[list[str]], T], keys: list[str]) -> Future[T]:
    """`read(keys)` in a thread of its own, or at once when there is nothing to read."""
    if keys:
        return _RECORD_READS.submit(read, keys)
    done: Future[T] = Future()
    done.set_result(read(keys))
    return done
