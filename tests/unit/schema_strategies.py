"""Hypothesis strategies that generate valid records for every event in the catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import emoji
from hypothesis import strategies as st

from schemas import EVENT_NAMES
from schemas.rules import (
    MAX_ANSWER_CHARS,
    MAX_CAPTION_CHARS,
    MAX_LIFETIME_SECONDS,
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_PROMPT_CHARS,
    MAX_STICKERS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MIN_LIFETIME_SECONDS,
    MIN_OPTIONS,
    SYSTEM_ACTOR,
)
from schemas.structure import ID_PATTERN

__all__ = ["RECORDS", "records"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST_MS = (datetime(2000, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
# Fixed when the module loads: a bound that moved between draws would make generation flaky.
_LATEST_MS = (datetime.now(UTC) - _EPOCH) // timedelta(milliseconds=1)

_id_chars = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
ids = st.text(_id_chars, min_size=1, max_size=24).filter(lambda s: ID_PATTERN.fullmatch(s))
uuids = st.uuids().map(str)
single_emoji = st.sampled_from(sorted(emoji.EMOJI_DATA))


def _shown_text(max_size: int) -> st.SearchStrategy[str]:
    """Non-blank text, as rules require for anything a person reads."""
    return st.text(min_size=1, max_size=max_size).filter(lambda s: not s.isspace())


_moments = st.integers(_EARLIEST_MS, _LATEST_MS).map(
    lambda ms: _EPOCH + timedelta(milliseconds=ms)
)  # millisecond-precision UTC datetimes, never in the future


@st.composite
def _header(draw: st.DrawFn, actor: st.SearchStrategy[str] = ids) -> dict[str, Any]:
    """event_id, occurred_at and actor_id."""
    return {"event_id": draw(uuids), "occurred_at": draw(_moments), "actor_id": draw(actor)}


def _two_users(draw: st.DrawFn) -> tuple[str, str]:
    """Two different users, e.g. a viewer and the author."""
    first, second = draw(st.lists(ids, min_size=2, max_size=2, unique=True))
    return first, second


@st.composite
def _sticker(draw: st.DrawFn, sticker_id: str) -> dict[str, Any]:
    """Any sticker kind with the fields that kind allows."""
    kind = draw(st.sampled_from(["POLL", "QUIZ", "QUESTION", "EMOJI_SLIDER"]))
    sticker = {
        "sticker_id": sticker_id,
        "kind": kind,
        "prompt": draw(_shown_text(MAX_PROMPT_CHARS)),
        "options": [],
        "correct_option": None,
        "emoji": None,
    }
    if kind in ("POLL", "QUIZ"):
        sticker["options"] = draw(
            st.lists(
                _shown_text(MAX_OPTION_CHARS),
                min_size=MIN_OPTIONS,
                max_size=MAX_OPTIONS,
                unique=True,
            )
        )
    if kind == "QUIZ":
        sticker["correct_option"] = draw(st.integers(0, len(sticker["options"]) - 1))
    if kind == "EMOJI_SLIDER":
        sticker["emoji"] = draw(single_emoji)
    return sticker


@st.composite
def _audience(draw: st.DrawFn, author_id: str) -> dict[str, Any]:
    """A mode with user_ids that fit it and never name the author."""
    mode = draw(st.sampled_from(["FOLLOWERS", "FOLLOWERS_EXCEPT", "ONLY", "CLOSE_FRIENDS"]))
    others = ids.filter(lambda user_id: user_id != author_id)
    if mode == "FOLLOWERS":
        return {"mode": mode, "user_ids": []}
    minimum = 1 if mode == "ONLY" else 0
    return {
        "mode": mode,
        "user_ids": draw(st.lists(others, min_size=minimum, max_size=6, unique=True)),
    }


@st.composite
def story_posted(draw: st.DrawFn) -> dict[str, Any]:
    """A text, image or video story with audience and stickers."""
    record = draw(_header())
    kind = draw(st.sampled_from(["TEXT", "IMAGE", "VIDEO"]))
    is_text = kind == "TEXT"
    lifetime = draw(st.integers(MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS))
    sticker_ids = draw(st.lists(ids, max_size=MAX_STICKERS, unique=True))
    record.update(
        story_id=draw(uuids),
        kind=kind,
        text=draw(_shown_text(MAX_TEXT_CHARS)) if is_text else None,
        media_id=None if is_text else draw(ids),
        caption=None if is_text else draw(st.none() | st.text(max_size=MAX_CAPTION_CHARS)),
        audience=draw(_audience(record["actor_id"])),
        stickers=[draw(_sticker(sticker_id)) for sticker_id in sticker_ids],
        lifetime_seconds=lifetime,
        expires_at=record["occurred_at"] + timedelta(seconds=lifetime),
    )
    return record


@st.composite
def _rendition(draw: st.DrawFn, name: str, media_kind: str) -> dict[str, Any]:
    """An image rendition, or for videos maybe a video one with a duration."""
    is_video = media_kind == "VIDEO" and draw(st.booleans())
    subtype = draw(st.sampled_from(["mp4", "webm"] if is_video else ["jpeg", "webp", "png"]))
    return {
        "name": name,
        "key": draw(_shown_text(60)),
        "content_type": f"{'video' if is_video else 'image'}/{subtype}",
        "width": draw(st.integers(1, 8192)),
        "height": draw(st.integers(1, 8192)),
        "size_bytes": draw(st.integers(1, 2**40)),
        "duration_ms": draw(st.integers(1, 120_000)) if is_video else None,
    }


@st.composite
def media_processed(draw: st.DrawFn) -> dict[str, Any]:
    """Renditions with distinct names, consistent with the media kind."""
    record = draw(_header())
    media_kind = draw(st.sampled_from(["IMAGE", "VIDEO"]))
    names = draw(st.lists(_shown_text(20), min_size=1, max_size=4, unique=True))
    record.update(
        story_id=draw(uuids),
        media_id=draw(ids),
        media_kind=media_kind,
        renditions=[draw(_rendition(name, media_kind)) for name in names],
    )
    return record


@st.composite
def media_rejected(draw: st.DrawFn) -> dict[str, Any]:
    """A snake_case code and a readable reason."""
    record = draw(_header())
    record.update(
        story_id=draw(uuids),
        media_id=draw(ids),
        code=draw(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)),
        reason=draw(_shown_text(200)),
    )
    return record


@st.composite
def _interaction(draw: st.DrawFn) -> dict[str, Any]:
    """A viewer acting on someone else's story."""
    record = draw(_header())
    viewer, author = _two_users(draw)
    record.update(actor_id=viewer, story_id=draw(uuids), author_id=author)
    return record


@st.composite
def story_reacted(draw: st.DrawFn) -> dict[str, Any]:
    """One emoji."""
    record = draw(_interaction())
    record["emoji"] = draw(single_emoji)
    return record


@st.composite
def sticker_answered(draw: st.DrawFn) -> dict[str, Any]:
    """Exactly one of the three answer kinds."""
    record = draw(_interaction())
    answer = draw(st.sampled_from(["option_index", "slider_value", "text"]))
    values = {
        "option_index": st.integers(0, MAX_OPTIONS - 1),
        "slider_value": st.floats(0.0, 1.0, allow_nan=False),
        "text": _shown_text(MAX_ANSWER_CHARS),
    }
    record.update(sticker_id=draw(ids), option_index=None, slider_value=None, text=None)
    record[answer] = draw(values[answer])
    return record


@st.composite
def story_replied(draw: st.DrawFn) -> dict[str, Any]:
    """Maybe with the message id."""
    record = draw(_interaction())
    record["message_id"] = draw(st.none() | ids)
    return record


@st.composite
def story_deleted(draw: st.DrawFn) -> dict[str, Any]:
    """Just the story."""
    record = draw(_header())
    record["story_id"] = draw(uuids)
    return record


@st.composite
def story_expired(draw: st.DrawFn) -> dict[str, Any]:
    """By system, at or after the expiry time."""
    record = draw(_header(st.just(SYSTEM_ACTOR)))
    late_by = draw(st.integers(0, 600_000))
    record.update(
        story_id=draw(uuids),
        author_id=draw(ids),
        expires_at=record["occurred_at"] - timedelta(milliseconds=late_by),
    )
    return record


@st.composite
def highlight_created(draw: st.DrawFn) -> dict[str, Any]:
    """A title and at least one story."""
    record = draw(_header())
    record.update(
        highlight_id=draw(uuids),
        title=draw(_shown_text(MAX_TITLE_CHARS)),
        story_ids=draw(st.lists(uuids, min_size=1, max_size=8, unique=True)),
    )
    return record


@st.composite
def highlight_updated(draw: st.DrawFn) -> dict[str, Any]:
    """A new title, a new order, or both."""
    record = draw(_header())
    title = draw(st.none() | _shown_text(MAX_TITLE_CHARS))
    story_ids = draw(st.lists(uuids, max_size=8, unique=True))
    keep_order = title is not None and draw(st.booleans())
    record.update(
        highlight_id=draw(uuids), title=title, story_ids=None if keep_order else story_ids
    )
    return record


@st.composite
def _highlight_story(draw: st.DrawFn) -> dict[str, Any]:
    """HighlightStoryAdded and HighlightStoryRemoved."""
    record = draw(_header())
    record.update(highlight_id=draw(uuids), story_id=draw(uuids))
    return record


@st.composite
def highlight_deleted(draw: st.DrawFn) -> dict[str, Any]:
    """Just the highlight."""
    record = draw(_header())
    record["highlight_id"] = draw(uuids)
    return record


@st.composite
def _follow_change(draw: st.DrawFn) -> dict[str, Any]:
    """UserFollowed and UserUnfollowed: two different users."""
    record = draw(_header())
    follower, followee = _two_users(draw)
    record.update(actor_id=follower, followee_id=followee)
    return record


@st.composite
def close_friends_changed(draw: st.DrawFn) -> dict[str, Any]:
    """A unique list without the actor."""
    record = draw(_header())
    others = ids.filter(lambda user_id: user_id != record["actor_id"])
    record["close_friend_ids"] = draw(st.lists(others, max_size=10, unique=True))
    return record


@st.composite
def user_erased(draw: st.DrawFn) -> dict[str, Any]:
    """The erased user and who asked."""
    record = draw(_header())
    record["requested_by"] = draw(st.sampled_from(["SELF", "SUPPORT"]))
    return record


RECORDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "StoryPosted": story_posted(),
    "MediaProcessed": media_processed(),
    "MediaRejected": media_rejected(),
    "StoryViewed": _interaction(),
    "StoryReacted": story_reacted(),
    "StickerAnswered": sticker_answered(),
    "StoryReplied": story_replied(),
    "StoryDeleted": story_deleted(),
    "StoryExpired": story_expired(),
    "HighlightCreated": highlight_created(),
    "HighlightUpdated": highlight_updated(),
    "HighlightStoryAdded": _highlight_story(),
    "HighlightStoryRemoved": _highlight_story(),
    "HighlightDeleted": highlight_deleted(),
    "UserFollowed": _follow_change(),
    "UserUnfollowed": _follow_change(),
    "CloseFriendsChanged": close_friends_changed(),
    "UserErased": user_erased(),
}
assert set(RECORDS) == set(EVENT_NAMES), "every event needs a strategy"


def records(event_name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid records of one event."""
    return RECORDS[event_name]
