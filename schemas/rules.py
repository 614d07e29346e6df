"""Product rules that Avro types cannot express, checked on encode and again on decode.

Every rule receives a record that already matches the latest schema of its event, so it can
index fields freely. Rules are stateless: they never look anything up, which keeps them cheap
enough for the hot path and means a rule that needs other events (e.g. "only the author may
delete") belongs in the consumer, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import emoji

from schemas.errors import EventValidationError

__all__ = [
    "DEFAULT_LIFETIME_SECONDS",
    "MAX_ANSWER_CHARS",
    "MAX_CAPTION_CHARS",
    "MAX_CLOCK_SKEW",
    "MAX_LIFETIME_SECONDS",
    "MAX_OPTIONS",
    "MAX_OPTION_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_REASON_CHARS",
    "MAX_STICKERS",
    "MAX_TEXT_CHARS",
    "MAX_TITLE_CHARS",
    "MIN_LIFETIME_SECONDS",
    "MIN_OPTIONS",
    "RULES",
    "Rule",
    "SYSTEM_ACTOR",
    "check_common",
    "is_single_emoji",
    "to_millis",
]

Rule = Callable[[Mapping[str, Any]], None]

SYSTEM_ACTOR = "system"
MAX_CLOCK_SKEW = timedelta(minutes=5)
MIN_LIFETIME_SECONDS = 3_600
MAX_LIFETIME_SECONDS = 172_800
DEFAULT_LIFETIME_SECONDS = 86_400
MAX_TEXT_CHARS = 700
MAX_CAPTION_CHARS = 2_200
MAX_STICKERS = 5
MAX_PROMPT_CHARS = 100
MIN_OPTIONS = 2
MAX_OPTIONS = 4
MAX_OPTION_CHARS = 50
MAX_ANSWER_CHARS = 500
MAX_TITLE_CHARS = 50
MAX_REASON_CHARS = 500
MAX_CODE_CHARS = 64

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MILLISECOND = timedelta(milliseconds=1)
_OPTION_KINDS = frozenset({"POLL", "QUIZ"})
_CODE_PATTERN = re.compile(rf"[a-z][a-z0-9_]{{0,{MAX_CODE_CHARS - 1}}}")


def _fail(field: str, message: str) -> NoReturn:
    """Raise the validation error every rule reports with."""
    raise EventValidationError(field, message)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated exactly as the Avro encoding stores them."""
    return (moment - _EPOCH) // _ONE_MILLISECOND


def is_single_emoji(text: str) -> bool:
    """One emoji, counting skin tones, flags and ZWJ sequences as one."""
    return emoji.is_emoji(text)


def _is_blank(text: str) -> bool:
    """Whitespace-only text shows nothing."""
    return not text or text.isspace()


def _check_text(field: str, text: str, max_chars: int) -> None:
    """Shown text must be non-blank and bounded (characters are Unicode code points)."""
    if _is_blank(text):
        _fail(field, "must not be empty")
    if len(text) > max_chars:
        _fail(field, f"must be at most {max_chars} characters, got {len(text)}")


def _check_not_author(field: str, author_id: str, actor_id: str, why: str) -> None:
    """Interactions come from viewers, never from the author of the story."""
    if author_id == actor_id:
        _fail(field, f"must differ from actor_id ({why})")


def check_common(record: Mapping[str, Any]) -> None:
    """Every event: not from the future, beyond a tolerance for clock skew."""
    if record["occurred_at"] > datetime.now(UTC) + MAX_CLOCK_SKEW:
        minutes = MAX_CLOCK_SKEW // timedelta(minutes=1)
        _fail("occurred_at", f"is more than {minutes} minutes in the future; check the clock")


# StoryPosted -----------------------------------------------------------------------------------


def check_story_posted(record: Mapping[str, Any]) -> None:
    """A posted story: lifetime, body, audience and stickers."""
    _check_lifetime(record)
    _check_body(record)
    _check_audience(record["audience"], record["actor_id"])
    _check_stickers(record["stickers"])


def _check_lifetime(record: Mapping[str, Any]) -> None:
    """Stories live 1 to 48 hours and announce the exact expiry."""
    lifetime = record["lifetime_seconds"]
    if not MIN_LIFETIME_SECONDS <= lifetime <= MAX_LIFETIME_SECONDS:
        _fail(
            "lifetime_seconds",
            f"must be between {MIN_LIFETIME_SECONDS} (1 h) and {MAX_LIFETIME_SECONDS} (48 h), "
            f"got {lifetime}",
        )
    expected = to_millis(record["occurred_at"]) + lifetime * 1000
    if to_millis(record["expires_at"]) != expected:
        _fail("expires_at", "must equal occurred_at + lifetime_seconds")


def _check_body(record: Mapping[str, Any]) -> None:
    """TEXT stories carry text only; IMAGE and VIDEO stories carry media and maybe a caption."""
    kind, text, media_id, caption = (
        record["kind"],
        record["text"],
        record["media_id"],
        record["caption"],
    )
    if kind == "TEXT":
        if text is None:
            _fail("text", "a TEXT story needs text")
        _check_text("text", text, MAX_TEXT_CHARS)
        if media_id is not None:
            _fail("media_id", "a TEXT story has no media")
        if caption is not None:
            _fail("caption", "a TEXT story has no caption (its body is text)")
        return
    if media_id is None:
        _fail("media_id", f"{_with_article(kind)} story needs media_id")
    if text is not None:
        _fail("text", f"only a TEXT story has text; use caption on {_with_article(kind)} story")
    if caption is not None and len(caption) > MAX_CAPTION_CHARS:
        _fail("caption", f"must be at most {MAX_CAPTION_CHARS} characters, got {len(caption)}")


def _with_article(kind: str) -> str:
    """Prefix the right article ("an IMAGE", "a VIDEO"); people read these messages."""
    return f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}"


def _check_audience(audience: Mapping[str, Any], author_id: str) -> None:
    """The mode decides whether user_ids may or must be empty; the author is never listed."""
    mode, user_ids = audience["mode"], audience["user_ids"]
    if mode == "FOLLOWERS" and user_ids:
        _fail("audience.user_ids", "must be empty when audience.mode is FOLLOWERS")
    if mode == "ONLY" and not user_ids:
        _fail("audience.user_ids", "audience.mode ONLY needs at least one user")
    for index, user_id in enumerate(user_ids):
        if user_id == author_id:
            _fail(f"audience.user_ids[{index}]", "must not be the author")


def _check_stickers(stickers: Sequence[Mapping[str, Any]]) -> None:
    """At most five stickers, each with its own id."""
    if len(stickers) > MAX_STICKERS:
        _fail("stickers", f"at most {MAX_STICKERS} stickers per story, got {len(stickers)}")
    first_seen: dict[str, int] = {}
    for index, sticker in enumerate(stickers):
        sticker_id = sticker["sticker_id"]
        if sticker_id in first_seen:
            _fail(
                f"stickers[{index}].sticker_id",
                f"repeats stickers[{first_seen[sticker_id]}].sticker_id ({sticker_id!r})",
            )
        first_seen[sticker_id] = index
        _check_sticker(f"stickers[{index}]", sticker)


def _check_sticker(path: str, sticker: Mapping[str, Any]) -> None:
    """Each kind uses its own subset of options, correct_option and emoji."""
    kind = sticker["kind"]
    _check_prompt(path, kind, sticker["prompt"])
    _check_options(path, kind, sticker["options"])
    _check_correct_option(path, kind, sticker["correct_option"], len(sticker["options"]))
    _check_slider_emoji(path, kind, sticker["emoji"])


def _check_prompt(path: str, kind: str, prompt: str) -> None:
    """Quizzes and questions must ask something; polls and sliders may leave it empty."""
    if kind in ("QUIZ", "QUESTION") and _is_blank(prompt):
        _fail(f"{path}.prompt", f"{_sticker_label(kind)} needs a prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        _fail(f"{path}.prompt", f"must be at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}")


def _check_options(path: str, kind: str, options: Sequence[str]) -> None:
    """Polls and quizzes offer 2 to 4 distinct, non-empty options; other kinds none."""
    if kind not in _OPTION_KINDS:
        if options:
            _fail(f"{path}.options", f"{_sticker_label(kind)} has no options")
        return
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        _fail(
            f"{path}.options",
            f"{_sticker_label(kind)} needs {MIN_OPTIONS} to {MAX_OPTIONS} options, "
            f"got {len(options)}",
        )
    for index, option in enumerate(options):
        _check_text(f"{path}.options[{index}]", option, MAX_OPTION_CHARS)
        if option in options[:index]:
            _fail(f"{path}.options[{index}]", f"repeats option [{options.index(option)}]")


def _check_correct_option(path: str, kind: str, correct: int | None, option_count: int) -> None:
    """Only a quiz has a right answer, and it must point at one of its options."""
    if kind != "QUIZ":
        if correct is not None:
            _fail(
                f"{path}.correct_option",
                f"only a quiz has a correct option, not {_sticker_label(kind)}",
            )
        return
    if correct is None:
        _fail(f"{path}.correct_option", "a quiz needs the index of its correct option")
    if not 0 <= correct < option_count:
        _fail(f"{path}.correct_option", f"must be 0 to {option_count - 1}, got {correct}")


def _check_slider_emoji(path: str, kind: str, sticker_emoji: str | None) -> None:
    """An emoji slider shows exactly one emoji; other kinds show none."""
    if kind != "EMOJI_SLIDER":
        if sticker_emoji is not None:
            _fail(f"{path}.emoji", f"only an emoji slider has an emoji, not {_sticker_label(kind)}")
        return
    if sticker_emoji is None or not is_single_emoji(sticker_emoji):
        _fail(f"{path}.emoji", "an emoji slider needs a single emoji")


def _sticker_label(kind: str) -> str:
    """Human wording of a sticker kind for messages: "a poll", "an emoji slider"."""
    label = kind.lower().replace("_", " ")
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"


# Media -----------------------------------------------------------------------------------------


def check_media_processed(record: Mapping[str, Any]) -> None:
    """At least one rendition, distinct names, plausible sizes, durations for video only."""
    renditions = record["renditions"]
    if not renditions:
        _fail("renditions", "at least one rendition is required")
    names: dict[str, int] = {}
    for index, rendition in enumerate(renditions):
        path = f"renditions[{index}]"
        name = rendition["name"]
        if name in names:
            _fail(f"{path}.name", f"repeats renditions[{names[name]}].name ({name!r})")
        names[name] = index
        _check_rendition(path, rendition, record["media_kind"])


def _check_rendition(path: str, rendition: Mapping[str, Any], media_kind: str) -> None:
    """One servable variant of an upload."""
    for field in ("name", "key"):
        if _is_blank(rendition[field]):
            _fail(f"{path}.{field}", "must not be empty")
    major = _content_major(path, rendition["content_type"])
    if media_kind == "IMAGE" and major != "image":
        _fail(f"{path}.content_type", "an IMAGE has only image renditions")
    for field in ("width", "height", "size_bytes"):
        if rendition[field] <= 0:
            _fail(f"{path}.{field}", f"must be positive, got {rendition[field]}")
    duration = rendition["duration_ms"]
    if major == "video" and (duration is None or duration <= 0):
        _fail(f"{path}.duration_ms", "a video rendition needs a positive duration")
    if major == "image" and duration is not None:
        _fail(f"{path}.duration_ms", "an image rendition has no duration")


def _content_major(path: str, content_type: str) -> str:
    """The "image" or "video" part of a MIME type; anything else cannot be shown in a story."""
    major, slash, minor = content_type.partition("/")
    if major not in ("image", "video") or not slash or not minor or " " in minor:
        _fail(
            f"{path}.content_type", f"must be an image/* or video/* MIME type, got {content_type!r}"
        )
    return major


def check_media_rejected(record: Mapping[str, Any]) -> None:
    """A snake_case code for programs and a non-empty reason for people."""
    code = record["code"]
    if _CODE_PATTERN.fullmatch(code) is None:
        _fail("code", f"must be snake_case of at most {MAX_CODE_CHARS} characters, got {code!r}")
    _check_text("reason", record["reason"], MAX_REASON_CHARS)


# Viewer interactions ---------------------------------------------------------------------------


def check_story_viewed(record: Mapping[str, Any]) -> None:
    """Authors opening their own story is not a view."""
    _check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not view their own stories",
    )


def check_story_reacted(record: Mapping[str, Any]) -> None:
    """A reaction is one emoji from someone other than the author."""
    _check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not react to their own stories",
    )
    if not is_single_emoji(record["emoji"]):
        _fail("emoji", f"must be a single emoji, got {record['emoji'][:20]!r}")


def check_sticker_answered(record: Mapping[str, Any]) -> None:
    """Exactly one kind of answer, within its bounds, from someone other than the author."""
    _check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not answer their own stickers",
    )
    option_index, slider_value, text = (
        record["option_index"],
        record["slider_value"],
        record["text"],
    )
    given = [
        name for name, value in _answers(option_index, slider_value, text) if value is not None
    ]
    if not given:
        _fail("option_index", "exactly one of option_index, slider_value or text must be set")
    if len(given) > 1:
        _fail(given[1], f"exactly one answer may be set, but {given[0]} is set too")
    if option_index is not None and not 0 <= option_index < MAX_OPTIONS:
        _fail("option_index", f"must be 0 to {MAX_OPTIONS - 1}, got {option_index}")
    if slider_value is not None and not 0.0 <= slider_value <= 1.0:
        _fail("slider_value", f"must be between 0.0 and 1.0, got {slider_value}")
    if text is not None:
        _check_text("text", text, MAX_ANSWER_CHARS)


def _answers(option_index: Any, slider_value: Any, text: Any) -> tuple[tuple[str, Any], ...]:
    """The three mutually exclusive answer fields, in schema order."""
    return (("option_index", option_index), ("slider_value", slider_value), ("text", text))


def check_story_replied(record: Mapping[str, Any]) -> None:
    """Authors do not reply to their own story."""
    _check_not_author(
        "author_id",
        record["author_id"],
        record["actor_id"],
        "authors do not reply to their own stories",
    )


def check_story_expired(record: Mapping[str, Any]) -> None:
    """Expiry is done by the system, never before the announced time."""
    if record["actor_id"] != SYSTEM_ACTOR:
        _fail("actor_id", f"a StoryExpired event is always by {SYSTEM_ACTOR!r}")
    if record["expires_at"] > record["occurred_at"]:
        _fail("expires_at", "must not be after occurred_at: a story cannot expire early")


# Highlights ------------------------------------------------------------------------------------


def check_highlight_created(record: Mapping[str, Any]) -> None:
    """A titled highlight made of at least one story."""
    _check_text("title", record["title"], MAX_TITLE_CHARS)
    if not record["story_ids"]:
        _fail("story_ids", "a highlight starts with at least one story")


def check_highlight_updated(record: Mapping[str, Any]) -> None:
    """An update changes the title, the order, or both."""
    title, story_ids = record["title"], record["story_ids"]
    if title is None and story_ids is None:
        _fail("title", "set title, story_ids or both; an update that changes nothing is refused")
    if title is not None:
        _check_text("title", title, MAX_TITLE_CHARS)


# Social graph ----------------------------------------------------------------------------------


def check_follow_change(record: Mapping[str, Any]) -> None:
    """Users do not follow or unfollow themselves."""
    if record["followee_id"] == record["actor_id"]:
        _fail("followee_id", "must differ from actor_id (users do not follow themselves)")


def check_close_friends_changed(record: Mapping[str, Any]) -> None:
    """The actor is never on their own close-friends list."""
    actor_id = record["actor_id"]
    for index, friend_id in enumerate(record["close_friend_ids"]):
        if friend_id == actor_id:
            _fail(f"close_friend_ids[{index}]", "must not be the actor")


def _no_extra_rule(record: Mapping[str, Any]) -> None:
    """Events whose schema says everything."""


RULES: dict[str, Rule] = {
    "StoryPosted": check_story_posted,
    "MediaProcessed": check_media_processed,
    "MediaRejected": check_media_rejected,
    "StoryViewed": check_story_viewed,
    "StoryReacted": check_story_reacted,
    "StickerAnswered": check_sticker_answered,
    "StoryReplied": check_story_replied,
    "StoryDeleted": _no_extra_rule,
    "StoryExpired": check_story_expired,
    "HighlightCreated": check_highlight_created,
    "HighlightUpdated": check_highlight_updated,
    "HighlightStoryAdded": _no_extra_rule,
    "HighlightStoryRemoved": _no_extra_rule,
    "HighlightDeleted": _no_extra_rule,
    "UserFollowed": check_follow_change,
    "UserUnfollowed": check_follow_change,
    "CloseFriendsChanged": check_close_friends_changed,
}
