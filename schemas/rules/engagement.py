"""Rules of viewers' interactions: views, reactions, sticker answers and replies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.rules.checks import check_not_author, check_text, fail, is_single_emoji
from schemas.rules.limits import MAX_ANSWER_CHARS, MAX_OPTIONS

__all__ = [
    "check_sticker_answered",
    "check_story_reacted",
    "check_story_replied",
    "check_story_viewed",
]


def check_story_viewed(record: Mapping[str, Any]) -> None:
    """Authors opening their own story is not a view."""
    check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not view their own stories",
    )


def check_story_reacted(record: Mapping[str, Any]) -> None:
    """A reaction is one emoji from someone other than the author."""
    check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not react to their own stories",
    )
    if not is_single_emoji(record["emoji"]):
        fail("emoji", f"must be a single emoji, got {record['emoji'][:20]!r}")


def check_sticker_answered(record: Mapping[str, Any]) -> None:
    """Exactly one kind of answer, within its bounds, from someone other than the author."""
    check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not answer their own stickers",
    )
    _check_one_answer(record)
    _check_answer_bounds(record)


def _check_one_answer(record: Mapping[str, Any]) -> None:
    """Exactly one of the mutually exclusive answer fields is set."""
    given = [name for name, value in _answers(record) if value is not None]
    if not given:
        fail("option_index", "exactly one of option_index, slider_value or text must be set")
    if len(given) > 1:
        fail(given[1], f"exactly one answer may be set, but {given[0]} is set too")


def _check_answer_bounds(record: Mapping[str, Any]) -> None:
    """The answer that is set fits its kind: an option index, a slider position or text."""
    option_index, slider_value, text = (
        record["option_index"],
        record["slider_value"],
        record["text"],
    )
    if option_index is not None and not 0 <= option_index < MAX_OPTIONS:
        fail("option_index", f"must be 0 to {MAX_OPTIONS - 1}, got {option_index}")
    if slider_value is not None and not 0.0 <= slider_value <= 1.0:
        fail("slider_value", f"must be between 0.0 and 1.0, got {slider_value}")
    if text is not None:
        check_text("text", text, MAX_ANSWER_CHARS)


def _answers(record: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The three mutually exclusive answer fields, in schema order."""
    return tuple((name, record[name]) for name in ("option_index", "slider_value", "text"))


def check_story_replied(record: Mapping[str, Any]) -> None:
    """Authors do not reply to their own story."""
    check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not reply to their own stories",
    )
