"""Account erasure: what a UserErased writes, and which later events about the user are dropped.

Pure, like every fold. An erasure removes the user from every read model: their stories (with
their counters and insights), their highlights, follows both ways, their close-friends list,
their rows in other authors' viewer lists and sticker answers, their own keys; it keeps one
record, the keyed hash of the id and the instant (`mark_erased`), so that every fold drops what
arrives about them later, live and in a replay alike.

The rule is decided by the events alone, so a replay decides as the live run did: anything by
an erased user at or after the erasure, and anything naming them as author or followee, is
dropped; their engagement from before the erasure (read after it: a replay, a late delivery)
counts in other people's aggregates without writing their identity anywhere, which is what the
erasure leaves of engagement folded before it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.clock import to_ms
from projections.folds.highlights import Highlight
from projections.folds.policy import Event
from projections.folds.writes import Writes
from projections.model import Story
from projections.stores.base import UserTraces

__all__ = ["ERASURE", "ErasureSnapshot", "users_named", "dropped", "by_erased", "about_erased",
           "anonymous", "without_erased", "segments", "fold_erasure"]

ERASURE = "UserErased"
_NAMING = ("actor_id", "author_id", "followee_id")
_AS_SUBJECT = ("author_id", "followee_id")  # events about these users are dropped outright
_ENGAGEMENT = frozenset({"StoryViewed", "StoryReacted", "StickerAnswered", "StoryReplied"})
# Lifecycle events that only remove: they still apply (a tombstone, an index entry gone).
_REMOVING = frozenset({"StoryDeleted", "StoryExpired", "MediaProcessed", "MediaRejected"})


@dataclass(frozen=True, slots=True)
class ErasureSnapshot:
    """What the erasure of one user starts from."""

    stories: list[Story] = field(default_factory=list)
    followers: set[str] = field(default_factory=set)
    following: set[str] = field(default_factory=set)
    traces: UserTraces = field(default_factory=UserTraces)
    highlights: list[Highlight] = field(default_factory=list)


def users_named(events: Sequence[Event]) -> list[str]:
    """Every user a batch names as actor, author, followee or close friend: whose erasure
    records to read."""
    named = [record[name] for _, record in events for name in _NAMING
             if isinstance(record.get(name), str)]
    named += [f for _, record in events for f in record.get("close_friend_ids") or ()]
    return list(dict.fromkeys(named))


def dropped(name: str, record: Mapping[str, Any], erased: Mapping[str, int]) -> bool:
    """Whether a fold drops this event because of an erasure."""
    return by_erased(name, record, erased) or about_erased(name, record, erased)


def by_erased(name: str, record: Mapping[str, Any], erased: Mapping[str, int]) -> bool:
    """An event of an erased user that is dropped: any but their earlier engagement."""
    if not erased or name in _REMOVING or name == ERASURE:
        return False
    erased_at = erased.get(str(record["actor_id"]))
    if erased_at is None:
        return False
    return name not in _ENGAGEMENT or _at(record) >= erased_at


def about_erased(name: str, record: Mapping[str, Any], erased: Mapping[str, int]) -> bool:
    """An event naming an erased user as author or followee: dropped whatever its time."""
    if not erased or name in _REMOVING or name == ERASURE:
        return False
    return any(record.get(field_name) in erased for field_name in _AS_SUBJECT)


def anonymous(name: str, record: Mapping[str, Any], erased: Mapping[str, int]) -> bool:
    """Engagement of an erased user from before their erasure: counted, never identified."""
    return name in _ENGAGEMENT and str(record["actor_id"]) in erased


def without_erased(user_ids: Sequence[str], erased: Mapping[str, int]) -> list[str]:
    """A list of users (a close-friends list) without the erased ones."""
    return [u for u in user_ids if u not in erased]


def segments(events: Sequence[Event]) -> Iterator[list[Event]]:
    """The batch cut around each erasure, so that each one starts from what came before it."""
    run: list[Event] = []
    for event in events:
        if event[0] == ERASURE:
            if run:
                yield run
            yield [event]
            run = []
        else:
            run.append(event)
    if run:
        yield run


def fold_erasure(user_id: str, at: int, snapshot: ErasureSnapshot) -> Writes:
    """Everything the read models hold of the user, removed; the erasure record written."""
    writes = Writes()
    active, record = writes.active, writes.record
    active.mark_erased(user_id, at)
    for story in snapshot.stories:
        record.delete_story(story.story_id)  # its viewer list and answers go with it
    for story_id, partition in sorted(snapshot.traces.indexed):
        active.drop_story(user_id, story_id, partition)  # its expiry index entry too
    owned = {story.story_id for story in snapshot.stories} | snapshot.traces.insights
    for story_id in sorted(owned):
        active.forget_story(story_id)
    _forget_graph(writes, user_id, at, snapshot)
    _forget_engagement(writes, user_id, snapshot.traces)
    for highlight in snapshot.highlights:
        record.delete_highlight(user_id, highlight.highlight_id, at)
        for story_id in highlight.story_ids:
            record.drop_member(story_id, highlight.highlight_id, at)
            record.unkeep(story_id)
    active.forget_user(user_id)
    return writes


def _forget_graph(writes: Writes, user_id: str, at: int, snapshot: ErasureSnapshot) -> None:
    """Follows both ways (with the followers' tray entries), their list, the celebrity flag."""
    for follower_id in sorted(snapshot.followers):
        writes.active.unfollow(follower_id, user_id)
        writes.active.drop_tray_entry(follower_id, user_id)
        writes.record.unfollow(follower_id, user_id, at)
    for followee_id in sorted(snapshot.following):
        writes.active.unfollow(user_id, followee_id)
        writes.record.unfollow(user_id, followee_id, at)
    writes.active.set_celebrity(user_id, False)
    writes.record.forget_close_friends(user_id)
    for owner_id in sorted(snapshot.traces.listed_by):
        writes.active.drop_close_friend(owner_id, user_id)
        writes.record.drop_close_friend(owner_id, user_id, at)
    for friend_id in sorted(snapshot.traces.close_friends):
        writes.active.drop_listed_by(friend_id, user_id)


def _forget_engagement(writes: Writes, user_id: str, traces: UserTraces) -> None:
    """Their rows in other authors' viewer lists and sticker answers (counts stay)."""
    for story_id in sorted(traces.seen | traces.reacted):
        writes.record.forget_viewer(story_id, user_id)
    for story_id, sticker_id in sorted(traces.answered):
        writes.record.forget_answer(story_id, sticker_id, user_id)


def _at(record: Mapping[str, Any]) -> int:
    return to_ms(record["occurred_at"])
