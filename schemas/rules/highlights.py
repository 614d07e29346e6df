"""Rules of highlights: a titled collection an author keeps of their stories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.rules.checks import check_text, fail
from schemas.rules.limits import MAX_TITLE_CHARS

__all__ = ["check_highlight_created", "check_highlight_updated"]


def check_highlight_created(record: Mapping[str, Any]) -> None:
    """A titled highlight made of at least one story."""
    check_text("title", record["title"], MAX_TITLE_CHARS)
    if not record["story_ids"]:
        fail("story_ids", "a highlight starts with at least one story")


def check_highlight_updated(record: Mapping[str, Any]) -> None:
    """An update changes the title, the order, or both."""
    title, story_ids = record["title"], record["story_ids"]
    if title is None and story_ids is None:
        fail("title", "set title, story_ids or both; an update that changes nothing is refused")
    if title is not None:
        check_text("title", title, MAX_TITLE_CHARS)
