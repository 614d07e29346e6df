"""The story-lifecycle fold: posts, media outcomes, deletions and expiries.

Pure: the projector reads the snapshot this fold asks for (`needs`), folds, then flushes the
writes; the authors whose trays may show a change then get their followers' trays refreshed by
`fold_tray_fanout`, from their stories as read back after the flush with their version.
Different stories of one author can be folded at once by different workers (a story's events
share a partition, an author's stories do not), each from what it read: a tray write carries
the version it was computed from, and the store keeps the newest.

Each event comes with the lifecycle partition it was read from, and a story's expiry entry
goes into that partition's index (every event of a story has its key, so its partition): the
worker consuming the partition polls that index. The partition is carried rather than
computed from the key because only the log knows it for sure: the project's producers hash
keys with librdkafka's CRC32 partitioner, Kafka's Java clients (and faust's producer) with
murmur2, and a partition count read from the broker at start-up goes stale when partitions
are added. A replay reads the same partitions from the same log: it rebuilds the same indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.clock import to_ms
from projections.folds.erasure import dropped
from projections.folds.highlights import Highlight
from projections.folds.policy import (
    MAX_LIFETIME_MS,
    Event,
    ProjectionPolicy,
    ProjectionRejected,
    ttl_seconds,
)
from projections.folds.writes import Writes
from projections.model import (
    READY,
    Story,
    TrayEntry,
    story_from_posted,
    tray_entry,
    with_media,
    with_rejection,
)
from projections.stores.base import EXPIRY_GRACE_MS, ActiveWrites, AuthorState, StoryRef

__all__ = [
    "LifecycleNeeds",
    "LifecycleSnapshot",
    "LifecycleResult",
    "needs",
    "ended_notes",
    "fold_lifecycle",
    "fold_tray_fanout",
    "put_entry",
    "tray_entries",
]

_MEDIA = frozenset({"MediaProcessed", "MediaRejected"})
_LOOKED_UP = _MEDIA | {"StoryDeleted"}
_AUTHORED = frozenset({"StoryPosted", "StoryDeleted", "StoryExpired"})


@dataclass(frozen=True, slots=True)
class LifecycleNeeds:
    """What the fold reads before it starts: the first round, from the events alone."""

    posted: list[str]  # deletion marks of these
    looked_up: list[str]  # story refs of these
    authors: set[str]  # the stories of these authors (plus the authors of the refs)
    held: list[str]  # the highlights holding these (expired, deleted, posted too late)


@dataclass(frozen=True, slots=True)
class LifecycleSnapshot:
    """The state the fold starts from."""

    deleted: set[str] = field(default_factory=set)
    refs: Mapping[str, StoryRef | None] = field(default_factory=dict)
    stories: Mapping[str, list[Story]] = field(default_factory=dict)
    holders: Mapping[str, set[str]] = field(default_factory=dict)
    highlights: Mapping[tuple[str, str], Highlight | None] = field(default_factory=dict)
    kept: Mapping[str, Story] = field(default_factory=dict)
    media_keys: Mapping[str, bytes] = field(default_factory=dict)  # wrapped, by story
    erased: Mapping[str, int] = field(default_factory=dict)  # erased users the batch names


@dataclass
class LifecycleResult:
    """The writes, the rejected events, the authors whose followers' trays may change, and the
    stories that left the read models (deleted or expired): their authors' live feeds end."""

    writes: Writes
    rejected: list[tuple[int, str]]
    changed_authors: list[str]
    expired_lags_s: list[float]
    ended: list[str] = field(default_factory=list)


def needs(events: Sequence[Event], now: int) -> LifecycleNeeds:
    """The first round of reads: deletion marks, refs, authors' stories, highlight holders."""
    posted = [r["story_id"] for name, r in events if name == "StoryPosted"]
    too_late = [r["story_id"] for name, r in events
                if name == "StoryPosted" and to_ms(r["expires_at"]) <= now]
    ended = [r["story_id"] for name, r in events if name in ("StoryExpired", "StoryDeleted")]
    return LifecycleNeeds(
        posted=posted,
        looked_up=[r["story_id"] for name, r in events if name in _LOOKED_UP],
        authors={r["author_id"] if name == "StoryExpired" else r["actor_id"]
                 for name, r in events if name in _AUTHORED},
        held=list(dict.fromkeys(too_late + ended)),
    )


def kept_needed(events: Sequence[Event], stories: Mapping[str, list[Story]], now: int) -> list[str]:
    """Media outcomes of stories not active here update their kept copy, if a highlight has one."""
    active = {s.story_id for found in stories.values() for s in found if s.is_active(now)}
    active |= {r["story_id"] for name, r in events
             if name == "StoryPosted" and to_ms(r["expires_at"]) > now}
    return list(dict.fromkeys(r["story_id"] for name, r in events
                              if name in _MEDIA and r["story_id"] not in active))


def media_keys_needed(events: Sequence[Event], stories: Mapping[str, list[Story]],
                      kept: Mapping[str, Story]) -> dict[str, int]:
    """The stories whose processed media needs its wrapped key, each with its posting time
    (which names the key-encryption key): from the stores, or from a post in the batch."""
    posted_at = {s.story_id: s.posted_at for found in stories.values() for s in found}
    posted_at.update((story_id, story.posted_at) for story_id, story in kept.items())
    posted_at.update((r["story_id"], to_ms(r["occurred_at"])) for name, r in events
                     if name == "StoryPosted")
    return {r["story_id"]: posted_at[r["story_id"]] for name, r in events
            if name == "MediaProcessed" and r["story_id"] in posted_at}


def deleted_highlights(events: Sequence[Event],
                       holders: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """The highlights a deleted story leaves: read before the fold."""
    return [(r["actor_id"], hid) for name, r in events if name == "StoryDeleted"
            for hid in sorted(holders.get(r["story_id"], ()))]


def fold_lifecycle(events: Sequence[Event], snapshot: LifecycleSnapshot, now: int,
                   policy: ProjectionPolicy, partitions: Sequence[int] | None = None
                   ) -> LifecycleResult:
    """Fold one batch of lifecycle events; rejected events are returned, not raised.

    `partitions`: the lifecycle partition each event was read from (None: all from partition 0,
    for events that come from no topic, as in tests).
    """
    run = _Run(snapshot, now, policy)
    rejected = []
    read_from = [0] * len(events) if partitions is None else partitions
    for index, ((name, record), partition) in enumerate(zip(events, read_from, strict=True)):
        if dropped(name, record, snapshot.erased):
            continue  # a post by an erased user
        try:
            _HANDLERS[name](run, record, partition)
        except ProjectionRejected as error:
            rejected.append((index, str(error)))
    return LifecycleResult(run.writes, rejected, sorted(run.changed_authors), run.expired_lags_s,
                           ended=list(run.ended))


def ended_notes(story_ids: Sequence[str]) -> list[dict[str, Any]]:
    """What the live feed is told of each story that ended: one note on the story's channel."""
    return [{"type": "ended", "story_id": story_id} for story_id in story_ids]


def fold_tray_fanout(changed_authors: Mapping[str, AuthorState],
                     followers: Mapping[str, set[str]], now: int,
                     policy: ProjectionPolicy) -> Writes:
    """Push each changed author's current state into their followers' trays (below the
    threshold); authors above it are flagged and merged into trays at read time instead."""
    writes = Writes()
    for author_id, state in changed_authors.items():
        fans = followers.get(author_id, set())
        celebrity = len(fans) > policy.fanout_threshold
        writes.active.set_celebrity(author_id, celebrity)
        if not celebrity:
            for follower_id, entry in tray_entries(state.stories, fans, now):
                put_entry(writes.active, follower_id, author_id, entry, state.version)
    return writes


def fold_unfollowed_meanwhile(before: Mapping[str, set[str]],
                              after: Mapping[str, set[str]]) -> Writes:
    """A follower who left while the trays were pushed loses the entry pushed to them."""
    writes = Writes()
    for author_id, fans in before.items():
        for gone in sorted(fans - after.get(author_id, set())):
            writes.active.drop_tray_entry(gone, author_id)
    return writes


def put_entry(active: ActiveWrites, viewer_id: str, author_id: str,
              entry: TrayEntry | None, version: int) -> None:
    """Set the viewer's entry for the author, or drop it when nothing is visible; `version`:
    of the author's stories it was computed from."""
    if entry is None:
        active.drop_tray_entry(viewer_id, author_id, version)
    else:
        active.set_tray_entry(viewer_id, entry, version)


def tray_entries(stories: list[Story], followers: set[str], now: int
                 ) -> Iterator[tuple[str, TrayEntry | None]]:
    """Each follower's entry; those no audience list names all get the same one, computed once."""
    named = set().union(*(s.audience_ids for s in stories), (s.author_id for s in stories))
    shared = tray_entry(stories, "", True, now)  # "" is no user: named by no audience
    for follower_id in sorted(followers):
        if follower_id in named:
            yield follower_id, tray_entry(stories, follower_id, True, now)
        else:
            yield follower_id, shared


class _Run:
    """One batch folded over the authors' stories held in memory."""

    def __init__(self, snapshot: LifecycleSnapshot, now: int, policy: ProjectionPolicy):
        self.snapshot = snapshot
        self.now = now
        self.policy = policy
        self.writes = Writes()
        self.stories: dict[str, dict[str, Story]] = {
            a: {s.story_id: s for s in found} for a, found in snapshot.stories.items()
        }
        self.authors: dict[str, str] = {}  # story -> author, for stories stored in this batch
        # Whose followers' trays may change: a story shown in trays was written or removed. A
        # story still processing (or rejected) changes no tray, so its writes push nothing.
        self.changed_authors: set[str] = set()
        self.expired_lags_s: list[float] = []
        self.ended: dict[str, None] = {}  # in the order they ended, each once

    def author_stories(self, author_id: str) -> dict[str, Story]:
        return self.stories.setdefault(author_id, {})

    def find(self, story_id: str, author_id: str | None = None) -> Story | None:
        author_id = author_id or self.authors.get(story_id)
        if author_id is None:
            ref = self.snapshot.refs.get(story_id)
            author_id = ref.author_id if ref else None
        return None if author_id is None else self.author_stories(author_id).get(story_id)

    def store(self, story: Story, partition: int) -> None:
        stories = self.author_stories(story.author_id)
        before = stories.get(story.story_id)
        if story.status == READY or (before is not None and before.status == READY):
            self.changed_authors.add(story.author_id)
        stories[story.story_id] = story
        self.authors[story.story_id] = story.author_id
        self.writes.active.put_story(story, story.expires_at + self.policy.insights_ms, partition)
        self.writes.record.put_story(story, ttl_seconds(story.expires_at + EXPIRY_GRACE_MS,
                                                        self.now))

    def remove(self, author_id: str, story_id: str, partition: int) -> None:
        """The story leaves the read models, whatever ends it: its live feed ends too."""
        if _shown_in_trays(self.author_stories(author_id).pop(story_id, None)):
            self.changed_authors.add(author_id)
        self.writes.active.drop_story(author_id, story_id, partition)
        self.ended[story_id] = None

    def held(self, story_id: str) -> bool:
        return bool(self.snapshot.holders.get(story_id))


def _shown_in_trays(story: Story | None) -> bool:
    """Whether a tray entry may list the removed story: only ready stories are shown to anyone
    but their author. One not found counts as shown (its entries, if any, must go)."""
    return story is None or story.status == READY


def _on_posted(run: _Run, record: dict[str, Any], partition: int) -> None:
    story = story_from_posted(record)
    if story.story_id in run.snapshot.deleted:
        return  # a deletion already seen wins over a late or replayed post
    if story.is_active(run.now):
        run.store(story, partition)
        return
    # Replay of an expired story: it must not come back, but what outlives it does.
    insights_until = story.expires_at + run.policy.insights_ms
    if insights_until > run.now:
        run.writes.active.keep_insights_owner(story.story_id, story.author_id, insights_until)
    if run.held(story.story_id):
        run.writes.record.keep(story)  # a highlight still holds it


def _on_media(change: Callable[[Story, dict[str, Any], bytes | None], Story]
              ) -> Callable[[_Run, dict[str, Any], int], None]:
    def handle(run: _Run, record: dict[str, Any], partition: int) -> None:
        story_id = record["story_id"]
        media_key = run.snapshot.media_keys.get(story_id)
        story = run.find(story_id)
        if story is not None and story.is_active(run.now):
            run.store(change(story, record, media_key), partition)
            return
        kept = run.snapshot.kept.get(story_id)
        if kept is not None:
            run.writes.record.keep(change(kept, record, media_key))
    return handle


def _on_deleted(run: _Run, record: dict[str, Any], partition: int) -> None:
    story_id, author_id = record["story_id"], record["actor_id"]
    known = run.find(story_id)
    if known is not None and known.author_id != author_id:
        raise ProjectionRejected(f"actor_id: {author_id} is not the author of {story_id}")
    at = to_ms(record["occurred_at"])
    run.writes.active.mark_deleted(story_id, at + MAX_LIFETIME_MS + run.policy.insights_ms)
    run.remove(author_id, story_id, partition)
    run.writes.record.delete_story(story_id)
    _leave_highlights(run, author_id, story_id, at)


def _leave_highlights(run: _Run, owner_id: str, story_id: str, at: int) -> None:
    """A deleted story leaves every highlight of its author and loses its kept copy."""
    for highlight_id in sorted(run.snapshot.holders.get(story_id, ())):
        highlight = run.snapshot.highlights.get((owner_id, highlight_id))
        if highlight is not None:
            ids = tuple(s for s in highlight.story_ids if s != story_id)
            run.writes.record.put_highlight(replace(highlight, story_ids=ids, updated_at=at), at)
        run.writes.record.drop_member(story_id, highlight_id, at)
    run.writes.record.unkeep(story_id)


def _on_expired(run: _Run, record: dict[str, Any], partition: int) -> None:
    story_id, author_id = record["story_id"], record["author_id"]
    story = run.find(story_id, author_id)
    if story is not None and run.held(story_id):
        run.writes.record.keep(story)  # a highlight keeps it past its 24 hours
    run.remove(author_id, story_id, partition)
    run.writes.record.expire_story(story_id)
    run.expired_lags_s.append((run.now - to_ms(record["expires_at"])) / 1000)


_HANDLERS: dict[str, Callable[[_Run, dict[str, Any], int], None]] = {
    "StoryPosted": _on_posted,
    "MediaProcessed": _on_media(with_media),
    "MediaRejected": _on_media(lambda story, record, _key: with_rejection(story, record)),
    "StoryDeleted": _on_deleted,
    "StoryExpired": _on_expired,
}
