"""Highlights: named, ordered collections of an owner's stories. Pure folds, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.clock import to_ms
from projections.folds.policy import Event
from projections.folds.writes import Writes

__all__ = ["Highlight", "HighlightsResult", "fold_highlight", "fold_highlights", "highlight_keys",
           "fold_unheld", "reorder"]


@dataclass(frozen=True, slots=True)
class Highlight:
    """One highlight as its owner arranged it."""

    owner_id: str
    highlight_id: str
    title: str
    story_ids: tuple[str, ...]
    created_at: int
    updated_at: int


def reorder(current: tuple[str, ...], wanted: list[str]) -> tuple[str, ...]:
    """The wanted order for stories already in the highlight; the rest keep their place after."""
    members = set(current)
    first = [s for s in dict.fromkeys(wanted) if s in members]
    return (*first, *(s for s in current if s not in set(first)))


def fold_highlight(
    current: Highlight | None, name: str, record: dict[str, Any]
) -> Highlight | None:
    """The highlight after one event; None when it does not (or no longer) exist."""
    at = to_ms(record["occurred_at"])
    if name == "HighlightCreated":
        if current is not None:
            return current  # redelivered
        ids = tuple(dict.fromkeys(record["story_ids"]))
        return Highlight(record["actor_id"], record["highlight_id"], record["title"], ids, at, at)
    if current is None or name == "HighlightDeleted":
        return None
    if name == "HighlightUpdated":
        title = record["title"] if record.get("title") is not None else current.title
        ids = current.story_ids
        if record.get("story_ids") is not None:
            ids = reorder(current.story_ids, record["story_ids"])
        return replace(current, title=title, story_ids=ids, updated_at=at)
    story_id = record["story_id"]
    if name == "HighlightStoryAdded":
        if story_id in current.story_ids:
            return current
        return replace(current, story_ids=(*current.story_ids, story_id), updated_at=at)
    if name == "HighlightStoryRemoved":
        ids = tuple(s for s in current.story_ids if s != story_id)
        if ids == current.story_ids:
            return current
        return replace(current, story_ids=ids, updated_at=at)
    raise ValueError(f"not a highlight event: {name}")


@dataclass
class HighlightsResult:
    """The writes, and the stories that left a highlight (their kept copy may go)."""

    writes: Writes
    released: set[str] = field(default_factory=set)


def highlight_keys(events: Sequence[Event]) -> list[tuple[str, str]]:
    """The (owner, highlight) pairs a batch touches: read before the fold."""
    return list(dict.fromkeys((r["actor_id"], r["highlight_id"]) for _, r in events))


def fold_highlights(events: Sequence[Event],
                    current: Mapping[tuple[str, str], Highlight | None],
                    erased: Mapping[str, int] | None = None) -> HighlightsResult:
    """Fold a batch of highlight edits; each highlight's final state is written once. Edits by
    an erased user are dropped (their highlights went with the erasure)."""
    state = dict(current)
    last_at: dict[tuple[str, str], int] = {}
    for name, record in events:
        if erased and record["actor_id"] in erased:
            continue
        key = (record["actor_id"], record["highlight_id"])
        after = fold_highlight(state.get(key), name, record)
        if after != state.get(key):
            state[key] = after
            last_at[key] = to_ms(record["occurred_at"])
    result = HighlightsResult(Writes())
    for key, at in last_at.items():
        if state[key] == current.get(key):
            continue  # changed and changed back within the batch
        _write_change(result, current.get(key), state[key], key, at)
    return result


def _write_change(result: HighlightsResult, before: Highlight | None, after: Highlight | None,
                  key: tuple[str, str], at: int) -> None:
    record = result.writes.record
    if after is None:
        record.delete_highlight(*key, at)
    else:
        record.put_highlight(after, at)
    old_ids = set(before.story_ids) if before else set()
    new_ids = set(after.story_ids) if after else set()
    for story_id in sorted(new_ids - old_ids):
        record.add_member(story_id, key[1], at)
    for story_id in sorted(old_ids - new_ids):
        record.drop_member(story_id, key[1], at)
    result.released |= old_ids - new_ids


def fold_unheld(holders: Mapping[str, set[str]]) -> Writes:
    """Stories no highlight holds any more lose their kept copy."""
    writes = Writes()
    for story_id in sorted(holders):
        if not holders[story_id]:
            writes.record.unkeep(story_id)
    return writes
