"""Structure and product rules: each rejects with the offending field named; valid samples pass."""

from __future__ import annotations

import copy
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
import pytest

from schemas import CATALOGUE, EVENT_NAMES, EventValidationError, decode, encode, validate
from schemas.golden import GoldenFile, load_sample

MISSING = object()
SELF = object()  # stands for the record's own actor_id
NOW = object()  # stands for "now + an offset", see at()


def sample(event_name: str) -> dict[str, Any]:
    """A fresh copy of the event's golden sample, a valid record."""
    return copy.deepcopy(load_sample(GoldenFile(event_name, 1), CATALOGUE))


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    """Set (or delete, with MISSING) a value at a path like "stickers[0].options"."""
    parts = [name or int(index) for name, index in _PART.findall(path)]
    target: Any = record
    for part in parts[:-1]:
        target = target[part]
    if value is MISSING:
        del target[parts[-1]]
    else:
        target[parts[-1]] = record["actor_id"] if value is SELF else value


def changed(event_name: str, changes: dict[str, Any]) -> dict[str, Any]:
    record = sample(event_name)
    for path, value in changes.items():
        set_path(record, path, value(record) if callable(value) else value)
    return record


def rejection(event_name: str, record: Any) -> EventValidationError:
    with pytest.raises(EventValidationError) as caught:
        validate(event_name, record)
    return caught.value


def later(record: dict[str, Any], **delta: float) -> datetime:
    return record["occurred_at"] + timedelta(**delta)


def from_now(**delta: float) -> Any:
    return lambda record: datetime.now(UTC) + timedelta(**delta)


UPPER_UUID = "0B6F4C1E-2D7A-4E8B-9C3F-5A1D2E3F4A5B"
POLL = "stickers[0]"
QUIZ = "stickers[1]"
QUESTION = "stickers[2]"
SLIDER = "stickers[3]"

# fmt: off
STRUCTURE_CASES = [
    ("StoryViewed", {"event_id": "not-a-uuid"}, "event_id", "must be a lowercase hyphenated uuid"),
    ("StoryViewed", {"event_id": UPPER_UUID}, "event_id", "lowercase hyphenated uuid"),
    ("StoryViewed", {"story_id": 42}, "story_id", "got int 42"),
    ("StoryViewed", {"occurred_at": datetime(2025, 1, 1)}, "occurred_at", "timezone-aware"),  # noqa: DTZ001
    ("StoryViewed", {"occurred_at": 1_700_000_000_000}, "occurred_at", "timezone-aware datetime"),
    ("StoryViewed", {"actor_id": ""}, "actor_id", "an id of 1 to 128 characters"),
    ("StoryViewed", {"actor_id": "two words"}, "actor_id", "without spaces"),
    ("StoryViewed", {"actor_id": "x" * 129}, "actor_id", "1 to 128"),
    ("StoryViewed", {"author_id": None}, "author_id", "got null"),
    ("StoryViewed", {"story_id": MISSING}, "story_id", "is required"),
    ("StoryViewed", {"colour": "red"}, "colour", "is not a field of StoryViewed"),
    ("StoryPosted", {"kind": "GIF"}, "kind", "must be one of TEXT, IMAGE, VIDEO, got 'GIF'"),
    ("StoryPosted", {"audience.mode": "FRIENDS"}, "audience.mode",
     "must be one of FOLLOWERS, FOLLOWERS_EXCEPT, ONLY, CLOSE_FRIENDS"),
    ("StoryPosted", {"audience": "everyone"}, "audience", "must be a mapping (Audience record)"),
    ("StoryPosted", {"audience.user_ids": "user-eve"}, "audience.user_ids", "must be a list"),
    ("StoryPosted", {"audience.user_ids[1]": ""}, "audience.user_ids[1]", "an id"),
    ("StoryPosted", {"audience.user_ids[1]": "user-eve"}, "audience.user_ids[1]",
     "repeats entry [0]"),
    ("StoryPosted", {f"{POLL}.kind": "VOTE"}, f"{POLL}.kind", "must be one of POLL, QUIZ"),
    ("StoryPosted", {f"{POLL}.options[1]": 3}, f"{POLL}.options[1]", "must be a string"),
    ("StoryPosted", {f"{SLIDER}.emoji": 1}, f"{SLIDER}.emoji", "must be null or a string"),
    ("StoryPosted", {f"{QUIZ}.correct_option": "2"}, f"{QUIZ}.correct_option",
     "must be null or a 32-bit integer"),
    ("StoryPosted", {"stickers": None}, "stickers", "must be a list, got null"),
    ("StoryPosted", {"lifetime_seconds": True}, "lifetime_seconds", "got bool True"),
    ("StoryPosted", {"lifetime_seconds": 2**31}, "lifetime_seconds", "32-bit integer"),
    ("StoryPosted", {"text": 7}, "text", "must be null or a string"),
    ("MediaProcessed", {"renditions[0].size_bytes": 2**63}, "renditions[0].size_bytes",
     "64-bit integer"),
    ("MediaProcessed", {"media_kind": "AUDIO"}, "media_kind", "must be one of IMAGE, VIDEO"),
    ("StickerAnswered", {"slider_value": "0.5"}, "slider_value", "must be null or a number"),
    ("HighlightCreated", {"story_ids[0]": "abc"}, "story_ids[0]", "uuid"),
    ("HighlightCreated", {"story_ids[1]": "0b6f4c1e-2d7a-4e8b-9c3f-5a1d2e3f4a5b"},
     "story_ids[1]", "repeats entry [0]"),
    ("CloseFriendsChanged", {"close_friend_ids[1]": "user-grace"}, "close_friend_ids[1]",
     "repeats entry [0]"),
    ("StoryReplied", {"message_id": ""}, "message_id", "must be null or an id of 1 to 128"),
]

RULE_CASES = [
    ("StoryViewed", {"occurred_at": from_now(minutes=6)}, "occurred_at", "in the future"),
    ("StoryPosted", {"lifetime_seconds": 3599, "expires_at": lambda r: later(r, seconds=3599)},
     "lifetime_seconds", "between 3600 (1 h) and 172800 (48 h), got 3599"),
    ("StoryPosted", {"lifetime_seconds": 172801}, "lifetime_seconds", "got 172801"),
    ("StoryPosted", {"expires_at": lambda r: later(r, days=1, milliseconds=1)}, "expires_at",
     "occurred_at + lifetime_seconds"),
    ("StoryPosted", {"kind": "TEXT", "media_id": None, "caption": None}, "text",
     "a TEXT story needs text"),
    ("StoryPosted", {"kind": "TEXT", "text": "hi", "caption": None}, "media_id",
     "a TEXT story has no media"),
    ("StoryPosted", {"kind": "TEXT", "text": "hi", "media_id": None}, "caption", "no caption"),
    ("StoryPosted", {"kind": "TEXT", "text": "  ", "media_id": None, "caption": None}, "text",
     "must not be empty"),
    ("StoryPosted", {"kind": "TEXT", "text": "x" * 701, "media_id": None, "caption": None},
     "text", "at most 700 characters, got 701"),
    ("StoryPosted", {"media_id": None}, "media_id", "an IMAGE story needs media_id"),
    ("StoryPosted", {"kind": "VIDEO", "media_id": None}, "media_id", "a VIDEO story needs"),
    ("StoryPosted", {"text": "hi"}, "text", "only a TEXT story has text"),
    ("StoryPosted", {"caption": "x" * 2201}, "caption", "at most 2200 characters"),
    ("StoryPosted", {"stickers": lambda r: [
        {**r["stickers"][2], "sticker_id": f"s{i}"} for i in range(6)
    ]}, "stickers", "at most 5 stickers"),
    ("StoryPosted", {f"{QUIZ}.sticker_id": "poll-1"}, f"{QUIZ}.sticker_id",
     "repeats stickers[0].sticker_id"),
    ("StoryPosted", {f"{POLL}.options": ["Yes"]}, f"{POLL}.options",
     "a poll needs 2 to 4 options, got 1"),
    ("StoryPosted", {f"{POLL}.options": list("abcde")}, f"{POLL}.options", "2 to 4 options"),
    ("StoryPosted", {f"{POLL}.options": ["Yes", "Yes"]}, f"{POLL}.options[1]",
     "repeats option [0]"),
    ("StoryPosted", {f"{POLL}.options": ["Yes", ""]}, f"{POLL}.options[1]", "must not be empty"),
    ("StoryPosted", {f"{POLL}.correct_option": 0}, f"{POLL}.correct_option",
     "only a quiz has a correct option, not a poll"),
    ("StoryPosted", {f"{POLL}.emoji": "😀"}, f"{POLL}.emoji", "only an emoji slider"),
    ("StoryPosted", {f"{QUIZ}.options": ["a"]}, f"{QUIZ}.options", "a quiz needs 2 to 4"),
    ("StoryPosted", {f"{QUIZ}.correct_option": None}, f"{QUIZ}.correct_option",
     "needs the index of its correct option"),
    ("StoryPosted", {f"{QUIZ}.correct_option": 3}, f"{QUIZ}.correct_option", "must be 0 to 2"),
    ("StoryPosted", {f"{QUIZ}.correct_option": -1}, f"{QUIZ}.correct_option", "got -1"),
    ("StoryPosted", {f"{QUIZ}.prompt": ""}, f"{QUIZ}.prompt", "a quiz needs a prompt"),
    ("StoryPosted", {f"{QUESTION}.options": ["a", "b"]}, f"{QUESTION}.options",
     "a question has no options"),
    ("StoryPosted", {f"{QUESTION}.prompt": "?" * 101}, f"{QUESTION}.prompt", "at most 100"),
    ("StoryPosted", {f"{SLIDER}.emoji": None}, f"{SLIDER}.emoji", "needs a single emoji"),
    ("StoryPosted", {f"{SLIDER}.emoji": "😴😴"}, f"{SLIDER}.emoji", "single emoji"),
    ("StoryPosted", {f"{SLIDER}.emoji": "z"}, f"{SLIDER}.emoji", "single emoji"),
    ("StoryPosted", {f"{SLIDER}.options": ["a", "b"]}, f"{SLIDER}.options",
     "an emoji slider has no options"),
    ("StoryPosted", {"audience.mode": "FOLLOWERS"}, "audience.user_ids",
     "must be empty when audience.mode is FOLLOWERS"),
    ("StoryPosted", {"audience.mode": "ONLY", "audience.user_ids": []}, "audience.user_ids",
     "ONLY needs at least one user"),
    ("StoryPosted", {"audience.user_ids[1]": SELF}, "audience.user_ids[1]",
     "must not be the author"),
    ("MediaProcessed", {"renditions": []}, "renditions", "at least one rendition"),
    ("MediaProcessed", {"renditions[1].name": "full"}, "renditions[1].name",
     "repeats renditions[0].name"),
    ("MediaProcessed", {"renditions[0].width": 0}, "renditions[0].width", "must be positive"),
    ("MediaProcessed", {"renditions[2].key": ""}, "renditions[2].key", "must not be empty"),
    ("MediaProcessed", {"renditions[0].content_type": "application/pdf"},
     "renditions[0].content_type", "image/* or video/*"),
    ("MediaProcessed", {"media_kind": "IMAGE"}, "renditions[0].content_type",
     "an IMAGE has only image renditions"),
    ("MediaProcessed", {"renditions[0].duration_ms": None}, "renditions[0].duration_ms",
     "needs a positive duration"),
    ("MediaProcessed", {"renditions[2].duration_ms": 10}, "renditions[2].duration_ms",
     "no duration"),
    ("MediaRejected", {"code": "Too Long"}, "code", "snake_case"),
    ("MediaRejected", {"reason": ""}, "reason", "must not be empty"),
    ("StoryViewed", {"author_id": SELF}, "author_id", "authors do not view"),
    ("StoryReacted", {"author_id": SELF}, "author_id", "must differ from actor_id"),
    ("StoryReacted", {"emoji": "hello"}, "emoji", "must be a single emoji, got 'hello'"),
    ("StoryReacted", {"emoji": "👍👍"}, "emoji", "single emoji"),
    ("StoryReacted", {"emoji": ""}, "emoji", "single emoji"),
    ("StickerAnswered", {"slider_value": None}, "option_index",
     "exactly one of option_index, slider_value or text must be set"),
    ("StickerAnswered", {"option_index": 1}, "slider_value", "option_index is set too"),
    ("StickerAnswered", {"text": "yes"}, "text", "slider_value is set too"),
    ("StickerAnswered", {"slider_value": 1.5}, "slider_value", "between 0.0 and 1.0"),
    ("StickerAnswered", {"slider_value": -0.01}, "slider_value", "between 0.0 and 1.0"),
    ("StickerAnswered", {"slider_value": float("nan")}, "slider_value", "between 0.0 and 1.0"),
    ("StickerAnswered", {"slider_value": None, "option_index": 4}, "option_index",
     "must be 0 to 3"),
    ("StickerAnswered", {"slider_value": None, "text": "x" * 501}, "text", "at most 500"),
    ("StickerAnswered", {"slider_value": None, "text": " "}, "text", "must not be empty"),
    ("StickerAnswered", {"author_id": SELF}, "author_id", "authors do not answer"),
    ("StoryReplied", {"author_id": SELF}, "author_id", "authors do not reply"),
    ("StoryExpired", {"actor_id": "user-ada"}, "actor_id", "always by 'system'"),
    ("StoryExpired", {"expires_at": lambda r: later(r, seconds=1)}, "expires_at",
     "must not be after occurred_at"),
    ("HighlightCreated", {"title": ""}, "title", "must not be empty"),
    ("HighlightCreated", {"title": "x" * 51}, "title", "at most 50 characters, got 51"),
    ("HighlightCreated", {"story_ids": []}, "story_ids", "at least one story"),
    ("HighlightUpdated", {"title": None, "story_ids": None}, "title", "changes nothing"),
    ("HighlightUpdated", {"title": "\t"}, "title", "must not be empty"),
    ("HighlightUpdated", {"story_ids[1]": "2d8b6e3a-4f9c-4a0d-9e5b-7c3f4a5b6c7d"}, "story_ids[1]",
     "repeats entry [0]"),
    ("UserFollowed", {"followee_id": SELF}, "followee_id", "do not follow themselves"),
    ("UserUnfollowed", {"followee_id": SELF}, "followee_id", "must differ from actor_id"),
    ("CloseFriendsChanged", {"close_friend_ids[1]": SELF}, "close_friend_ids[1]",
     "must not be the actor"),
]


# fmt: on


def case_id(case: tuple[str, dict[str, Any], str, str]) -> str:
    return f"{case[0]}-{case[2]}-{case[3][:24]}"


@pytest.mark.parametrize("case", STRUCTURE_CASES + RULE_CASES, ids=case_id)
def test_each_problem_is_rejected_naming_its_field(case):
    event_name, changes, field, fragment = case
    error = rejection(event_name, changed(event_name, changes))
    assert error.field == field, str(error)
    assert fragment in error.message, str(error)
    assert str(error) == f"{field}: {error.message}"
    assert error.event_name == event_name


@pytest.mark.parametrize("case", STRUCTURE_CASES + RULE_CASES, ids=case_id)
def test_encode_refuses_what_validate_refuses(case):
    event_name, changes, field, _ = case
    with pytest.raises(EventValidationError) as caught:
        encode(event_name, changed(event_name, changes))
    assert caught.value.field == field


def test_a_record_that_is_not_a_mapping_is_named_record():
    error = rejection("StoryViewed", ["not", "a", "record"])
    assert str(error).startswith("record: must be a mapping (StoryViewed record)")


def test_long_bad_values_are_shortened_in_messages():
    error = rejection("StoryViewed", changed("StoryViewed", {"event_id": "z" * 500}))
    assert len(str(error)) < 120


@pytest.mark.parametrize("event_name", EVENT_NAMES)
def test_every_golden_sample_is_valid(event_name):
    validate(event_name, sample(event_name))


FIFTH_STICKER = {
    "sticker_id": "poll-2",
    "kind": "POLL",
    "prompt": "",
    "options": ["a", "b"],
    "correct_option": None,
    "emoji": None,
}

# fmt: off
VALID_EDGES = [
    ("StoryViewed", {"occurred_at": from_now(minutes=4)}),
    ("StoryPosted", {"lifetime_seconds": 3600, "expires_at": lambda r: later(r, hours=1)}),
    ("StoryPosted", {"lifetime_seconds": 172800, "expires_at": lambda r: later(r, hours=48)}),
    ("StoryPosted", {"expires_at": lambda r: later(r, days=1, microseconds=999)}),
    ("StoryPosted", {"kind": "TEXT", "text": "x" * 700, "media_id": None, "caption": None}),
    ("StoryPosted", {"caption": "x" * 2200}),
    ("StoryPosted", {"caption": ""}),
    ("StoryPosted", {"audience.user_ids": []}),
    ("StoryPosted", {"audience.mode": "CLOSE_FRIENDS", "audience.user_ids": []}),
    ("StoryPosted", {"audience.mode": "ONLY", "audience.user_ids": ["user-eve"]}),
    ("StoryPosted", {"audience.mode": "FOLLOWERS", "audience.user_ids": []}),
    ("StoryPosted", {"audience.user_ids": ("user-eve",)}),
    ("StoryPosted", {f"{POLL}.options": list("abcd"), f"{POLL}.prompt": ""}),
    ("StoryPosted", {"stickers": lambda r: [*r["stickers"], FIFTH_STICKER]}),
    ("StoryPosted", {f"{SLIDER}.emoji": "👨‍👩‍👧"}),
    ("StoryReacted", {"emoji": "🇫🇷"}),
    ("StoryReacted", {"emoji": "❤️"}),
    ("StickerAnswered", {"slider_value": 0}),
    ("StickerAnswered", {"slider_value": 1.0}),
    ("StickerAnswered", {"slider_value": None, "option_index": 0}),
    ("StickerAnswered", {"slider_value": None, "text": "x" * 500}),
    ("StoryReplied", {"message_id": None}),
    ("StoryExpired", {"expires_at": lambda r: r["occurred_at"]}),
    ("HighlightCreated", {"title": "x" * 50}),
    ("HighlightUpdated", {"title": None}),
    ("HighlightUpdated", {"story_ids": None}),
    ("HighlightUpdated", {"story_ids": []}),
    ("CloseFriendsChanged", {"close_friend_ids": []}),
    ("MediaProcessed", {"media_kind": "IMAGE", "renditions": lambda r: r["renditions"][2:]}),
]


# fmt: on


@pytest.mark.parametrize(("event_name", "changes"), VALID_EDGES)
def test_values_at_the_edges_are_accepted(event_name, changes):
    validate(event_name, changed(event_name, changes))


def test_decode_applies_the_rules_too():
    record = changed("StoryViewed", {"author_id": SELF})
    data = CATALOGUE.encode_version("StoryViewed", 1, record)  # structure only, as a bad producer
    with pytest.raises(EventValidationError) as caught:
        decode(data)
    assert caught.value.field == "author_id"
    assert caught.value.event_name == "StoryViewed"


def test_decode_checks_uuids_that_avro_itself_does_not():
    record = changed("StoryDeleted", {"story_id": UPPER_UUID})
    version = CATALOGUE.version_of("StoryDeleted")
    body = io.BytesIO()
    fastavro.schemaless_writer(body, version.codec_schema, record)  # a producer without checks
    with pytest.raises(EventValidationError, match="^story_id: must be a lowercase"):
        decode(version.header + body.getvalue())
