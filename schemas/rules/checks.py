"""What the rules of every event family share: the Rule shape, text checks, the common rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import emoji

from schemas.errors import EventValidationError
from schemas.rules.limits import MAX_CLOCK_SKEW

__all__ = [
    "Rule",
    "SYSTEM_ACTOR",
    "check_common",
    "check_not_author",
    "check_text",
    "fail",
    "is_blank",
    "is_single_emoji",
    "no_extra_rule",
    "to_millis",
]

Rule = Callable[[Mapping[str, Any]], None]

SYSTEM_ACTOR = "system"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MILLISECOND = timedelta(milliseconds=1)


def fail(field: str, message: str) -> NoReturn:
    """Raise the validation error every rule reports with."""
    raise EventValidationError(field, message)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated exactly as the Avro encoding stores them."""
    return (moment - _EPOCH) // _ONE_MILLISECOND


def is_single_emoji(text: str) -> bool:
    """One emoji, counting skin tones, flags and ZWJ sequences as one."""
    return emoji.is_emoji(text)


def is_blank(text: str) -> bool:
    """Whitespace-only text shows nothing."""
    return not text or text.isspace()


def check_text(field: str, text: str, max_chars: int) -> None:
    """Shown text must be non-blank and bounded (characters are Unicode code points)."""
    if is_blank(text):
        fail(field, "must not be empty")
    if len(text) > max_chars:
        fail(field, f"must be at most {max_chars} characters, got {len(text)}")


def check_not_author(field: str, author_id: str, actor_id: str, why: str) -> None:
    """Interactions come from viewers, never from the author of the story."""
    if author_id == actor_id:
        fail(field, f"must differ from actor_id ({why})")


def check_common(record: Mapping[str, Any]) -> None:
    """Every event: not from the future, beyond a tolerance for clock skew."""
    if record["occurred_at"] > datetime.now(UTC) + MAX_CLOCK_SKEW:
        minutes = MAX_CLOCK_SKEW // timedelta(minutes=1)
        fail("occurred_at", f"is more than {minutes} minutes in the future; check the clock")


def no_extra_rule(record: Mapping[str, Any]) -> None:
    """Events whose schema says everything."""
