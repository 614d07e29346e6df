"""The engagement fold: views, reactions, sticker answers and replies, exact under redelivery.

Which storage semantics each event gets is decided here: a view counts once per event and once
per viewer (distinct sets), a reaction replaces the user's previous one (latest-wins cell), the
first answer of a user to a sticker counts (first-wins cell), identities live only as long as
the story and counts for the insights window after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.clock import to_ms
from projections.folds.erasure import about_erased, anonymous, by_erased
from projections.folds.policy import MAX_LIFETIME_MS, Event, ProjectionPolicy, ttl_seconds
from projections.folds.writes import Writes
from projections.stores.base import SEEN_TTL_MS, ActiveWrites, RecordWrites, StoryRef

__all__ = ["EngagementSnapshot", "EngagementResult", "story_ids_of", "fold_engagement",
           "fold_deleted_meanwhile"]


@dataclass(frozen=True, slots=True)
class EngagementSnapshot:
    """Each story's author and expiry (None when unknown or gone) and the deleted ones."""

    refs: Mapping[str, StoryRef | None] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    erased: Mapping[str, int] = field(default_factory=dict)  # erased users the batch names


@dataclass
class EngagementResult:
    """The writes, the stories whose counters they touched (checked again after), and the
    erased users whose engagement counted without them: no live-feed note names them."""

    writes: Writes
    counted: list[str]
    unnamed: set[str] = field(default_factory=set)


def story_ids_of(events: Sequence[Event]) -> list[str]:
    return list(dict.fromkeys(record["story_id"] for _, record in events))


def fold_engagement(events: Sequence[Event], snapshot: EngagementSnapshot, now: int,
                    policy: ProjectionPolicy) -> EngagementResult:
    """Fold one batch; engagement with a deleted story or past its insights window is dropped."""
    writes = Writes()
    active, record_store = writes.active, writes.record
    keep: dict[str, int] = {}
    replied: set[str] = set()
    unnamed: set[str] = set()
    for name, record in events:
        if by_erased(name, record, snapshot.erased):
            continue
        story_id = record["story_id"]
        at = to_ms(record["occurred_at"])
        named = not anonymous(name, record, snapshot.erased)
        if not named:
            unnamed.add(record["actor_id"])
        elif at + SEEN_TTL_MS > now:
            # What the viewer did does not depend on the story's fate, so order cannot change it.
            _note_viewer(active, name, record)
        if about_erased(name, record, snapshot.erased):
            continue
        if story_id in snapshot.deleted:
            continue
        ref = snapshot.refs.get(story_id)
        expires = ref.expires_at if ref else at + MAX_LIFETIME_MS
        keep_until = expires + policy.insights_ms
        if keep_until <= now:
            continue
        keep[story_id] = max(keep.get(story_id, 0), keep_until)
        if name == "StoryReplied":
            replied.add(story_id)
        # An erased user's identity is written nowhere: no row lives long enough to be read.
        ttl = ttl_seconds(expires, now) if named else 0
        _HANDLERS[name](active, record_store, record, at, ttl, keep_until)
    for story_id in sorted(replied):
        active.keep_replies_until(story_id, keep[story_id])
    return EngagementResult(writes, list(keep), unnamed)


def fold_deleted_meanwhile(deleted: set[str]) -> Writes:
    """A deletion folded concurrently (another agent or worker) may have cleared the counters
    just before this batch wrote them: clear them again after it."""
    writes = Writes()
    for story_id in sorted(deleted):
        writes.active.clear_counters(story_id)
    return writes


def _note_viewer(active: ActiveWrites, name: str, r: dict[str, Any]) -> None:
    """The viewer's seen set, and the stories an erasure of theirs must look at."""
    if name == "StoryViewed":
        active.mark_seen(r["actor_id"], r["story_id"])
    elif name == "StoryReacted":
        active.note_engaged(r["actor_id"], r["story_id"], None)
    elif name == "StickerAnswered" and r.get("text") is not None:
        active.note_engaged(r["actor_id"], r["story_id"], r["sticker_id"])


def _on_view(active: ActiveWrites, records: RecordWrites, r: dict[str, Any], at: int, ttl: int,
             keep: int) -> None:
    active.view(r["story_id"], r["actor_id"], r["event_id"], at, keep)
    if ttl:
        records.view(r["story_id"], r["actor_id"], at, ttl)


def _on_reaction(active: ActiveWrites, records: RecordWrites, r: dict[str, Any], at: int,
                 ttl: int, keep: int) -> None:
    active.react(r["story_id"], r["actor_id"], at, r["emoji"], keep)
    if ttl:
        records.react(r["story_id"], r["actor_id"], r["emoji"], at, ttl)


def _on_answer(active: ActiveWrites, records: RecordWrites, r: dict[str, Any], at: int,
               ttl: int, keep: int) -> None:
    active.answer(r["story_id"], r["sticker_id"], r["actor_id"], answer_increments(r), keep)
    if ttl and r.get("text") is not None:
        records.answer(r, at, ttl)


def _on_reply(active: ActiveWrites, records: RecordWrites, r: dict[str, Any], at: int, ttl: int,
              keep: int) -> None:
    active.reply(r["story_id"], r["event_id"])


def answer_increments(record: Mapping[str, Any]) -> dict[str, float]:
    """What one answer adds to its sticker's counters."""
    if record.get("option_index") is not None:
        return {f"o{record['option_index']}": 1, "n": 1}
    if record.get("slider_value") is not None:
        return {"n": 1, "sum": record["slider_value"]}
    return {"n": 1}


_HANDLERS: dict[str, Callable[[ActiveWrites, RecordWrites, dict[str, Any], int, int, int],
                              None]] = {
    "StoryViewed": _on_view,
    "StoryReacted": _on_reaction,
    "StickerAnswered": _on_answer,
    "StoryReplied": _on_reply,
}
