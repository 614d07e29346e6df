"""Commands: checked against the read models, then emitted as events for the calling user.

The checks are blocking (Redis, CQL and S3 clients), so each command's check runs in a worker
thread; the emission is awaited on the event loop with a bounded wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from anyio import to_thread
from botocore.exceptions import BotoCoreError, ClientError

import schemas
from core.clock import now_ms
from gateway.context import Command, Gateway
from gateway.idempotency import ClaimState
from gateway.metrics import DEPENDENCY_ERRORS
from gateway.models import (
    AnswerRequest,
    AudienceMode,
    CloseFriendsRequest,
    HighlightChange,
    HighlightRequest,
    StoryAccepted,
    StoryKind,
    StoryRequest,
    UploadGrant,
    UploadRequest,
)
from gateway.problems import conflict, invalid, not_found, unavailable
from gateway.reads import own_active_story_ids, own_story, story_for
from gateway.uploads import Upload
from media.layout import is_safe_id, upload_key
from projections.folds.highlights import Highlight
from projections.model import Story
from schemas.rules.checks import is_blank

__all__ = [
    "UPLOAD_MARGIN_SECONDS",
    "in_thread",
    "run_command",
    "grant_upload",
    "post_story",
    "delete_story",
    "view",
    "react",
    "reply",
    "answer",
    "check_answer",
    "follow",
    "unfollow",
    "set_close_friends",
    "create_highlight",
    "change_highlight",
    "delete_highlight",
    "add_to_highlight",
    "remove_from_highlight",
    "erase_account",
    "erasure_commands",
]

WRITE, ENGAGEMENT = "write", "engagement"
UPLOAD_MARGIN_SECONDS = 3600  # time to post the story once the upload URL has been used
ANSWER_FIELDS = ("option_index", "slider_value", "text")
ANSWER_FIELD_OF = {"POLL": "option_index", "QUIZ": "option_index", "EMOJI_SLIDER": "slider_value",
                   "QUESTION": "text"}

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run a blocking read-model call off the event loop."""
    return await to_thread.run_sync(partial(function, *args))


async def run_command(
    gw: Gateway, prepare: Callable[..., Command | None], *args: Any
) -> Command | None:
    """Check in a worker thread, then emit; None when there was nothing to emit."""
    command = await in_thread(prepare, gw, *args)
    if command is not None:
        await gw.emit(command)
    return command


def _event(event_name: str, actor_id: str, renames: Mapping[str, str] | None = None,
           **fields: Any) -> Command:
    """A validated event; rule violations name the request's field, not the event's."""
    record = schemas.new_event(event_name, actor_id, **fields)
    try:
        schemas.validate(event_name, record)
    except schemas.EventValidationError as error:
        raise invalid(_renamed(error.field, renames or {}), error.message) from None
    return Command(event_name, record)


def _renamed(field: str, renames: Mapping[str, str]) -> str:
    for event_field, request_field in renames.items():
        if field == event_field or field.startswith((f"{event_field}[", f"{event_field}.")):
            return request_field + field[len(event_field):]
    return field


# -- media ------------------------------------------------------------------------------------


def grant_upload(gw: Gateway, user_id: str, request: UploadRequest) -> UploadGrant:
    """A presigned PUT URL for a new media id, remembered as the caller's for a while."""
    gw.limiter.spend(user_id, WRITE)
    if not is_safe_id(user_id):
        # Upload keys are derived from the poster's id; some ids cannot be a key segment.
        raise invalid("sub", "media can be uploaded by users whose id is letters, digits and ._@:-")
    media_id = str(uuid.uuid4())
    lifetime = gw.settings.upload_url_seconds
    gw.uploads.grant(media_id, Upload(user_id, request.kind.value),
                     lifetime + UPLOAD_MARGIN_SECONDS)
    return UploadGrant(
        media_id=media_id,
        upload_url=gw.presigner.url("PUT", upload_key(user_id, media_id), lifetime),
        expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
    )


def _check_upload(gw: Gateway, user_id: str, media_id: str, kind: str) -> None:
    """The media id must be the caller's own recent upload, of the kind posted, and present."""
    upload = gw.uploads.granted(media_id)
    if upload is None or upload.user_id != user_id:
        raise invalid("media_id", "not an upload of yours, or its upload window has passed")
    if upload.kind != kind:
        raise invalid("kind", f"the upload was announced as {upload.kind}")
    try:
        gw.s3.head_object(Bucket=gw.settings.s3_bucket, Key=upload_key(user_id, media_id))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise invalid("media_id", "nothing has been uploaded to its URL yet") from None
        raise _storage_away() from None
    except BotoCoreError:
        raise _storage_away() from None


def _storage_away() -> Exception:
    DEPENDENCY_ERRORS.labels("s3").inc()
    return unavailable("Media storage")


# -- stories ----------------------------------------------------------------------------------


def _story_record(gw: Gateway, user_id: str, request: StoryRequest) -> dict[str, Any]:
    """The StoryPosted record for a request, validated, its audience snapshot filled in."""
    gw.limiter.spend(user_id, WRITE)
    audience = request.audience
    user_ids = list(audience.user_ids)
    if audience.mode is AudienceMode.CLOSE_FRIENDS:
        if user_ids:
            raise invalid("audience.user_ids", "filled from your close friends; leave it empty")
        user_ids = sorted(gw.models.redis.close_friends(user_id))
    command = _event(
        "StoryPosted", user_id, story_id=str(uuid.uuid4()), kind=request.kind.value,
        text=request.text, media_id=request.media_id, caption=request.caption,
        audience={"mode": audience.mode.value, "user_ids": user_ids},
        stickers=[s.model_dump(mode="json") for s in request.stickers],
        lifetime_seconds=request.lifetime_seconds,
    )
    if request.media_id is not None:
        _check_upload(gw, user_id, request.media_id, request.kind.value)
    return command.record


def _fingerprint(request: StoryRequest) -> str:
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


async def post_story(
    gw: Gateway, user_id: str, request: StoryRequest, key: str | None
) -> StoryAccepted:
    """Post once; with an Idempotency-Key, repeats answer with the first story's id."""
    record = await in_thread(_story_record, gw, user_id, request)
    status = "posted" if request.kind is StoryKind.TEXT else "processing"
    if key is None:
        await gw.emit(Command("StoryPosted", record))
        return StoryAccepted(story_id=record["story_id"], status=status)
    claim = await in_thread(gw.idempotency.claim, user_id, key, _fingerprint(request))
    if claim.state is ClaimState.DONE:
        return StoryAccepted(story_id=claim.story_id, status=status)
    if claim.state is ClaimState.PENDING:
        raise conflict("A request with this Idempotency-Key is still in progress.", retry_after=1)
    if claim.state is ClaimState.MISMATCH:
        raise invalid("Idempotency-Key", "was already used for a different story")
    record = {**record, "story_id": claim.story_id, "event_id": claim.event_id}
    try:
        await gw.emit(Command("StoryPosted", record))
    except Exception:
        await in_thread(gw.idempotency.release, user_id, key, claim)
        raise
    await in_thread(gw.idempotency.complete, user_id, key, claim)
    return StoryAccepted(story_id=claim.story_id, status=status)


def delete_story(gw: Gateway, user_id: str, story_id: str) -> Command:
    """Only the author deletes; for anyone else the story does not exist."""
    gw.limiter.spend(user_id, WRITE)
    if own_story(gw.models.redis, user_id, story_id, now_ms()) is None:
        raise not_found()
    return _event("StoryDeleted", user_id, story_id=story_id)


# -- engagement -------------------------------------------------------------------------------


def _engaged(gw: Gateway, user_id: str, story_id: str) -> Story | None:
    """The story engaged with; None for the author's own (nothing to emit)."""
    gw.limiter.spend(user_id, ENGAGEMENT)
    story = story_for(gw.models.redis, user_id, story_id, now_ms())
    if story is None:
        raise not_found()
    return None if story.author_id == user_id else story


def view(gw: Gateway, user_id: str, story_id: str) -> Command | None:
    story = _engaged(gw, user_id, story_id)
    if story is None:
        return None
    return _event("StoryViewed", user_id, story_id=story_id, author_id=story.author_id)


def react(gw: Gateway, user_id: str, story_id: str, emoji: str) -> Command | None:
    story = _engaged(gw, user_id, story_id)
    if story is None:
        return None
    return _event("StoryReacted", user_id, story_id=story_id, author_id=story.author_id,
                  emoji=emoji)


def reply(gw: Gateway, user_id: str, story_id: str, message_id: str | None) -> Command | None:
    story = _engaged(gw, user_id, story_id)
    if story is None:
        return None
    return _event("StoryReplied", user_id, story_id=story_id, author_id=story.author_id,
                  message_id=message_id)


def answer(
    gw: Gateway, user_id: str, story_id: str, sticker_id: str, request: AnswerRequest
) -> tuple[Command | None, bool | None]:
    """The answer event, and for a quiz whether it was right. A malformed answer is refused
    first, whatever the story: the same for every caller and every story."""
    check_one_answer(request)
    story = _engaged(gw, user_id, story_id)
    if story is None:
        return None, None
    sticker = next((s for s in story.stickers if s["sticker_id"] == sticker_id), None)
    if sticker is None:
        raise not_found("sticker on this story")
    check_answer(sticker, request)
    command = _event("StickerAnswered", user_id, story_id=story_id, author_id=story.author_id,
                     sticker_id=sticker_id, **request.model_dump())
    correct = request.option_index == sticker["correct_option"] if sticker["kind"] == "QUIZ" else None
    return command, correct


def check_one_answer(request: AnswerRequest) -> None:
    """Exactly one of option_index, slider_value and text; text that shows something."""
    given = [name for name in ANSWER_FIELDS if getattr(request, name) is not None]
    if len(given) != 1:
        field = given[1] if given else ANSWER_FIELDS[0]
        raise invalid(field, "give exactly one of option_index, slider_value and text")
    if request.text is not None and is_blank(request.text):
        raise invalid("text", "must not be empty")


def check_answer(sticker: Mapping[str, Any], request: AnswerRequest) -> None:
    """Exactly the kind of answer the sticker takes, within its options."""
    check_one_answer(request)
    given = [name for name in ANSWER_FIELDS if getattr(request, name) is not None]
    expected = ANSWER_FIELD_OF[sticker["kind"]]
    if given[0] != expected:
        raise invalid(given[0], f"a {sticker['kind']} sticker is answered with {expected}")
    options = len(sticker["options"])
    index = request.option_index
    if expected == "option_index" and index is not None and index >= options:
        raise invalid("option_index", f"must be 0 to {options - 1}")


# -- social graph -----------------------------------------------------------------------------


def follow(gw: Gateway, user_id: str, followee_id: str) -> Command | None:
    """None for the caller themselves: everyone sees their own stories, nothing to record."""
    gw.limiter.spend(user_id, WRITE)
    if followee_id == user_id:
        return None
    return _event("UserFollowed", user_id, followee_id=followee_id)


def unfollow(gw: Gateway, user_id: str, followee_id: str) -> Command | None:
    gw.limiter.spend(user_id, WRITE)
    if followee_id == user_id:
        return None
    return _event("UserUnfollowed", user_id, followee_id=followee_id)


def set_close_friends(gw: Gateway, user_id: str, request: CloseFriendsRequest) -> Command:
    gw.limiter.spend(user_id, WRITE)
    return _event("CloseFriendsChanged", user_id, {"close_friend_ids": "user_ids"},
                  close_friend_ids=list(request.user_ids))


# -- highlights -------------------------------------------------------------------------------


def _own_highlight(gw: Gateway, user_id: str, highlight_id: str) -> Highlight:
    """The caller's highlight; everyone else's do not exist for them."""
    gw.limiter.spend(user_id, WRITE)
    highlight = gw.models.cql.highlight(user_id, highlight_id)
    if highlight is None:
        raise not_found("highlight")
    return highlight


def _require_own_live(gw: Gateway, user_id: str, story_ids: Sequence[str], field: str) -> None:
    owned = own_active_story_ids(gw.models.redis, user_id, list(story_ids), now_ms())
    for index, story_id in enumerate(story_ids):
        if story_id not in owned:
            name = f"{field}[{index}]" if field == "story_ids" else field
            raise invalid(name, "not one of your active stories")


def create_highlight(gw: Gateway, user_id: str, request: HighlightRequest) -> Command:
    gw.limiter.spend(user_id, WRITE)
    _require_own_live(gw, user_id, request.story_ids, "story_ids")
    return _event("HighlightCreated", user_id, highlight_id=str(uuid.uuid4()),
                  title=request.title, story_ids=list(request.story_ids))


def change_highlight(
    gw: Gateway, user_id: str, highlight_id: str, request: HighlightChange
) -> Command:
    """Rename and/or reorder: a new order may only name stories already in the highlight."""
    highlight = _own_highlight(gw, user_id, highlight_id)
    for index, story_id in enumerate(request.story_ids or ()):
        if story_id not in highlight.story_ids:
            raise invalid(f"story_ids[{index}]", "is not in this highlight")
    story_ids = list(request.story_ids) if request.story_ids is not None else None
    return _event("HighlightUpdated", user_id, highlight_id=highlight_id, title=request.title,
                  story_ids=story_ids)


def delete_highlight(gw: Gateway, user_id: str, highlight_id: str) -> Command:
    _own_highlight(gw, user_id, highlight_id)
    return _event("HighlightDeleted", user_id, highlight_id=highlight_id)


def add_to_highlight(gw: Gateway, user_id: str, highlight_id: str, story_id: str) -> Command:
    _own_highlight(gw, user_id, highlight_id)
    _require_own_live(gw, user_id, [story_id], "story_id")
    return _event("HighlightStoryAdded", user_id, highlight_id=highlight_id, story_id=story_id)


def remove_from_highlight(
    gw: Gateway, user_id: str, highlight_id: str, story_id: str
) -> Command:
    highlight = _own_highlight(gw, user_id, highlight_id)
    if story_id not in highlight.story_ids:
        raise not_found("story in this highlight")
    return _event("HighlightStoryRemoved", user_id, highlight_id=highlight_id, story_id=story_id)


# -- account ----------------------------------------------------------------------------------


def erasure_commands(gw: Gateway, user_id: str, requested_by: str) -> list[Command]:
    """A deletion of each story the read models hold of the user (live, or kept by a highlight:
    the media path destroys its key and objects), then the erasure itself."""
    gw.limiter.spend(user_id, WRITE)
    story_ids = [story.story_id for story in gw.models.redis.author_stories(user_id)]
    story_ids += [s for h in gw.models.cql.highlights_of(user_id) for s in h.story_ids]
    deletions = [_event("StoryDeleted", user_id, story_id=s) for s in dict.fromkeys(story_ids)]
    return [*deletions, _event("UserErased", user_id, requested_by=requested_by)]


async def erase_account(gw: Gateway, user_id: str, requested_by: str) -> None:
    """Emit the deletions, then the erasure once they are acknowledged; then forget the user's
    Idempotency-Keys (gateway state outside the read models)."""
    *deletions, erasure = await in_thread(erasure_commands, gw, user_id, requested_by)
    await asyncio.gather(*(gw.emit(command) for command in deletions))
    await gw.emit(erasure)
    gw.erased.note(user_id)
    await in_thread(gw.idempotency.forget_user, user_id)
