"""Highlights: named, ordered collections of an owner's stories. Pure fold, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.clock import to_ms

__all__ = ["Highlight", "fold_highlight", "reorder"]


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
