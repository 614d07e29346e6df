"""Rules of a story's own lifecycle: what a posted story may hold, and when it may expire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.rules.checks import SYSTEM_ACTOR, check_text, fail, to_millis
from schemas.rules.limits import (
    MAX_CAPTION_CHARS,
    MAX_LIFETIME_SECONDS,
    MAX_TEXT_CHARS,
    MIN_LIFETIME_SECONDS,
)
from schemas.rules.stickers import check_stickers

__all__ = ["check_story_expired", "check_story_posted"]


def check_story_posted(record: Mapping[str, Any]) -> None:
    """A posted story: lifetime, body, audience and stickers."""
    _check_lifetime(record)
    _check_body(record)
    _check_audience(record["audience"], record["actor_id"])
    check_stickers(record["stickers"])


def _check_lifetime(record: Mapping[str, Any]) -> None:
    """Stories live 1 to 48 hours and announce the exact expiry."""
    lifetime = record["lifetime_seconds"]
    if not MIN_LIFETIME_SECONDS <= lifetime <= MAX_LIFETIME_SECONDS:
        fail(
            "lifetime_seconds",
            f"must be between {MIN_LIFETIME_SECONDS} (1 h) and {MAX_LIFETIME_SECONDS} (48 h), "
            f"got {lifetime}",
        )
    expected = to_millis(record["occurred_at"]) + lifetime * 1000
    if to_millis(record["expires_at"]) != expected:
        fail("expires_at", "must equal occurred_at + lifetime_seconds")


def _check_body(record: Mapping[str, Any]) -> None:
    """TEXT stories carry text only; IMAGE and VIDEO stories carry media and maybe a caption."""
    if record["kind"] == "TEXT":
        _check_text_body(record)
    else:
        _check_media_body(record)


def _check_text_body(record: Mapping[str, Any]) -> None:
    """A TEXT story's body is its text: no media, no caption."""
    text = record["text"]
    if text is None:
        fail("text", "a TEXT story needs text")
    check_text("text", text, MAX_TEXT_CHARS)
    if record["media_id"] is not None:
        fail("media_id", "a TEXT story has no media")
    if record["caption"] is not None:
        fail("caption", "a TEXT story has no caption (its body is text)")


def _check_media_body(record: Mapping[str, Any]) -> None:
    """An IMAGE or VIDEO story shows its media, with at most a bounded caption."""
    kind, caption = record["kind"], record["caption"]
    if record["media_id"] is None:
        fail("media_id", f"{_with_article(kind)} story needs media_id")
    if record["text"] is not None:
        fail("text", f"only a TEXT story has text; use caption on {_with_article(kind)} story")
    if caption is not None and len(caption) > MAX_CAPTION_CHARS:
        fail("caption", f"must be at most {MAX_CAPTION_CHARS} characters, got {len(caption)}")


def _with_article(kind: str) -> str:
    """Prefix the right article ("an IMAGE", "a VIDEO"); people read these messages."""
    return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _check_audience(audience: Mapping[str, Any], author_id: str) -> None:
    """The mode decides whether user_ids may or must be empty; the author is never listed."""
    mode, user_ids = audience["mode"], audience["user_ids"]
    if mode == "FOLLOWERS" and user_ids:
        fail("audience.user_ids", "must be empty when audience.mode is FOLLOWERS")
    if mode == "ONLY" and not user_ids:
        fail("audience.user_ids", "audience.mode ONLY needs at least one user")
    for index, user_id in enumerate(user_ids):
        if user_id == author_id:
            fail(f"audience.user_ids[{index}]", "must not be the author")


def check_story_expired(record: Mapping[str, Any]) -> None:
    """Expiry is done by the system, never before the announced time."""
    if record["actor_id"] != SYSTEM_ACTOR:
        fail("actor_id", f"a StoryExpired event is always by {SYSTEM_ACTOR!r}")
    if record["expires_at"] > record["occurred_at"]:
        fail("expires_at", "must not be after occurred_at: a story cannot expire early")
