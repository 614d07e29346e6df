"""Request and response bodies of the HTTP API; /openapi.json is generated from these."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from core.version import VERSION
from gateway.auth import USER_ID_PATTERN
from projections.queries import MAX_TRAY_AUTHORS
from schemas.structure import NOT_IN_IDS

__all__ = [
    "UUID_PATTERN",
    "MAX_HIGHLIGHT_STORIES",
    "PATH_ID_PATTERN",
    "CURSOR_PATTERN",
    "UserId",
    "Uuid",
    "StoryKind",
    "MediaKind",
    "AudienceMode",
    "StickerKind",
    "UploadRequest",
    "UploadGrant",
    "AudienceIn",
    "StickerIn",
    "StoryRequest",
    "StoryAccepted",
    "Accepted",
    "AnswerAccepted",
    "HighlightAccepted",
    "ReactionRequest",
    "ReplyRequest",
    "AnswerRequest",
    "CloseFriendsRequest",
    "HighlightRequest",
    "HighlightChange",
    "HighlightStoryRequest",
    "Rendition",
    "StickerOut",
    "AudienceOut",
    "StoryOut",
    "StoryList",
    "StoryStatus",
    "PostedStatus",
    "AcceptedStatus",
    "RenditionName",
    "TrayQuery",
    "Friend",
    "FriendPage",
    "TrayItemOut",
    "TrayPage",
    "Viewer",
    "ViewerPage",
    "OptionResult",
    "SliderResult",
    "StickerResult",
    "Insights",
    "HighlightOut",
    "HighlightList",
    "Health",
    "Readiness",
]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# A user id as it can appear in a URL path: the id rule, and no slash.
PATH_ID_PATTERN = rf"^[^{NOT_IN_IDS}/]{{1,128}}$"

MAX_HIGHLIGHT_STORIES = 100  # listed per highlight; `stories_truncated` says when there are more
NEXT_CURSOR = "Pass it as `cursor` for the next page; null on the last page"

# Shown text holds something besides spaces (the events' rule; the event check names the field,
# so the pattern is declared for clients rather than checked twice). Python's `str.isspace`.
NOT_BLANK = (r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
             r"\u3000]")
SHOWN: dict[str, Any] = {"pattern": NOT_BLANK}
UNIQUE: dict[str, Any] = {"uniqueItems": True}  # every `*_ids` list of an event repeats no id
CURSOR_PATTERN = r"^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?$"  # empty: the first page

UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]


def _not_a_boolean(value: Any) -> Any:
    """JSON's true and false are not numbers, though Python's bool is an int."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


NoBool = BeforeValidator(_not_a_boolean)
Uuid = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]


class StoryKind(StrEnum):
    TEXT = "TEXT"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class MediaKind(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


class AudienceMode(StrEnum):
    FOLLOWERS = "FOLLOWERS"
    FOLLOWERS_EXCEPT = "FOLLOWERS_EXCEPT"
    ONLY = "ONLY"
    CLOSE_FRIENDS = "CLOSE_FRIENDS"


class StickerKind(StrEnum):
    POLL = "POLL"
    QUIZ = "QUIZ"
    QUESTION = "QUESTION"
    EMOJI_SLIDER = "EMOJI_SLIDER"


class StoryStatus(StrEnum):
    READY = "ready"
    PROCESSING = "processing"
    REJECTED = "rejected"


class PostedStatus(StrEnum):
    POSTED = "posted"
    PROCESSING = "processing"


class AcceptedStatus(StrEnum):
    ACCEPTED = "accepted"


class RenditionName(StrEnum):
    FULL = "full"
    LOW = "low"
    THUMBNAIL = "thumbnail"


class HealthStatus(StrEnum):
    OK = "ok"


class ReadinessStatus(StrEnum):
    READY = "ready"


class _Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid")


# -- commands ---------------------------------------------------------------------------------


class UploadRequest(_Body):
    kind: MediaKind = Field(description="What will be uploaded")


class UploadGrant(BaseModel):
    media_id: str = Field(description="Use it as `media_id` when posting the story")
    upload_url: str = Field(description="Presigned URL: PUT the bytes here, before `expires_at`")
    method: str = Field("PUT", description="HTTP method for `upload_url`")
    expires_at: datetime = Field(description="When `upload_url` stops working")


def _when(field: str, values: list[str], then: dict[str, Any],
          otherwise: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON Schema conditional on an enum field; an absent field reads as its default, which
    `values` must list when the default is among them."""
    rule: dict[str, Any] = {"if": {"properties": {field: {"enum": values}}}, "then": then}
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def _fields(required: list[str] | None = None, **properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": properties, **({"required": required} if required else {})}


NULL: dict[str, Any] = {"type": "null"}


class AudienceIn(_Body):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        _when("mode", ["FOLLOWERS", "CLOSE_FRIENDS"], _fields(user_ids={"maxItems": 0})),
        {"if": _fields(["mode"], mode={"const": "ONLY"}),
         "then": _fields(["user_ids"], user_ids={"minItems": 1})},
    ]})

    mode: AudienceMode = AudienceMode.FOLLOWERS
    user_ids: list[UserId] = Field(
        default_factory=list,
        max_length=1000,
        json_schema_extra=UNIQUE,
        description="Excluded (FOLLOWERS_EXCEPT) or the only viewers (ONLY, at least one); empty "
        "for FOLLOWERS; filled by the server from your close friends for CLOSE_FRIENDS. Never "
        "the author",
    )


class StickerIn(_Body):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        _when("kind", ["POLL", "QUIZ"],
              _fields(["options"], options={"minItems": 2, "uniqueItems": True,
                                            "items": {"pattern": NOT_BLANK}}),
              _fields(options={"maxItems": 0})),
        _when("kind", ["QUIZ"],
              {"required": ["correct_option"], "properties": {"correct_option": {
                  "type": "integer"}},
               # The right answer is one of the options given.
               "allOf": [{"if": _fields(options={"maxItems": count}),
                          "then": _fields(correct_option={"maximum": count - 1})}
                         for count in (2, 3)]},
              _fields(correct_option=NULL)),
        _when("kind", ["EMOJI_SLIDER"], _fields(["emoji"], emoji={"type": "string"}),
              _fields(emoji=NULL)),
        _when("kind", ["QUIZ", "QUESTION"], _fields(["prompt"], prompt=SHOWN)),
    ]})

    sticker_id: UserId = Field(description="Unique within the story")
    kind: StickerKind
    prompt: str = Field("", max_length=100, description="Required for QUIZ and QUESTION")
    options: list[Annotated[str, StringConstraints(max_length=50)]] = Field(
        default_factory=list, max_length=4,
        description="2 to 4 distinct ones for POLL and QUIZ, else none"
    )
    correct_option: Annotated[int | None, NoBool] = Field(None, ge=0, le=3,
                                       description="QUIZ only: the index of the right option")
    emoji: str | None = Field(None, max_length=32,
                              description="EMOJI_SLIDER only: exactly one emoji")


class StoryRequest(_Body):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        _when("kind", ["TEXT"],
              _fields(["text"], text={"type": "string"}, media_id=NULL, caption=NULL),
              _fields(["media_id"], media_id={"type": "string"}, text=NULL)),
    ]})

    kind: StoryKind = StoryKind.TEXT
    text: str | None = Field(None, max_length=700, json_schema_extra=SHOWN,
                             description="TEXT stories only, and required there")
    media_id: UserId | None = Field(
        None, description="From POST /api/v1/media/uploads; IMAGE and VIDEO only, and required "
        "there")
    caption: str | None = Field(None, max_length=2200, description="IMAGE and VIDEO only")
    audience: AudienceIn = Field(default_factory=AudienceIn)
    stickers: list[StickerIn] = Field(default_factory=list, max_length=5)
    lifetime_seconds: Annotated[int, NoBool] = Field(86_400, ge=3_600, le=172_800)


class StoryAccepted(BaseModel):
    story_id: str
    status: PostedStatus = Field(
        description="`posted` (text) or `processing` (media being prepared)")


class Accepted(BaseModel):
    status: AcceptedStatus = Field(AcceptedStatus.ACCEPTED,
                                   description="The event was acknowledged by the log")


class AnswerAccepted(Accepted):
    correct: bool | None = Field(None, description="For a quiz: whether the answer was right")


class HighlightAccepted(Accepted):
    highlight_id: str
    owner_id: str = Field(description="The caller, whose highlights list it")


class ReactionRequest(_Body):
    emoji: str = Field(min_length=1, max_length=32, description="Exactly one emoji")


class ReplyRequest(_Body):
    message_id: UserId | None = Field(None, description="The reply in the messaging system")


class AnswerRequest(_Body):
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        _fields(["option_index"], option_index={"type": "integer"}, slider_value=NULL, text=NULL),
        _fields(["slider_value"], slider_value={"type": "number"}, option_index=NULL, text=NULL),
        _fields(["text"], text={"type": "string"}, option_index=NULL, slider_value=NULL),
    ]})

    option_index: Annotated[int | None, NoBool] = Field(None, ge=0, le=3, description="POLL and QUIZ")
    slider_value: Annotated[float | None, NoBool] = Field(None, ge=0.0, le=1.0, description="EMOJI_SLIDER")
    text: str | None = Field(None, max_length=500, json_schema_extra=SHOWN, description="QUESTION")


class CloseFriendsRequest(_Body):
    user_ids: list[UserId] = Field(max_length=1000, json_schema_extra=UNIQUE,
                                   description="The whole new list, without the caller")


class HighlightRequest(_Body):
    title: str = Field(max_length=50, json_schema_extra=SHOWN)
    story_ids: list[Uuid] = Field(min_length=1, max_length=100, json_schema_extra=UNIQUE,
                                  description="The caller's own active stories")


class HighlightChange(_Body):
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        _fields(["title"], title={"type": "string"}),
        _fields(["story_ids"], story_ids={"type": "array"}),
    ]})

    title: str | None = Field(None, max_length=50, json_schema_extra=SHOWN)
    story_ids: list[Uuid] | None = Field(
        None, max_length=100, json_schema_extra=UNIQUE,
        description="The new order, naming only stories already in the highlight")


class HighlightStoryRequest(_Body):
    story_id: Uuid


# -- reads ------------------------------------------------------------------------------------


class Rendition(BaseModel):
    name: RenditionName
    url: str = Field(description="Short-lived presigned GET URL of the encrypted object")
    key: str = Field(description="Object key: the associated data when decrypting")
    content_type: str
    width: int
    height: int
    duration_ms: int | None = None


class StickerOut(BaseModel):
    sticker_id: str
    kind: StickerKind
    prompt: str
    options: list[str]
    emoji: str | None = None
    correct_option: int | None = Field(None, description="Shown to the author only")


class AudienceOut(BaseModel):
    mode: AudienceMode
    user_ids: list[str]


class StoryOut(BaseModel):
    story_id: str
    author_id: str
    kind: StoryKind
    text: str | None = None
    caption: str | None = None
    posted_at: datetime
    expires_at: datetime
    stickers: list[StickerOut]
    media: list[Rendition] = Field(description="Renditions with short-lived URLs; empty for text")
    media_key: str | None = Field(
        None, description="The story's AES-256-GCM key (base64url) to decrypt its renditions"
    )
    status: StoryStatus = Field(
        description="`ready`; the author also sees `processing` and `rejected`")
    rejection: str | None = Field(None, description="Author only: why the media was refused")
    audience: AudienceOut | None = Field(None, description="Author only")


class StoryList(BaseModel):
    items: list[StoryOut] = Field(description="Oldest first, the order to watch them in")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class TrayItemOut(BaseModel):
    author_id: str
    has_unseen: bool
    latest_story_id: str
    latest_at: datetime
    thumbnail_url: str | None = Field(description="Short-lived; null for text stories")
    thumbnail_key: str | None = Field(None, description="Object key of the thumbnail (for decryption)")
    media_key: str | None = Field(None, description="Key of the latest story (base64url)")
    muted: bool


class TrayPage(BaseModel):
    items: list[TrayItemOut]
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)
    truncated: bool = Field(
        False, description=f"The tray considers at most {MAX_TRAY_AUTHORS} authors with stories "
        f"pushed to the caller and {MAX_TRAY_AUTHORS} followed celebrities; true when the caller "
        "has more, some of whom are then left out of every page")


class TrayQuery(_Body):
    muted: list[UserId] = Field(
        default_factory=list, max_length=500,
        description="Authors to put last; the server keeps nothing of this list")
    limit: Annotated[int, NoBool] = Field(30, ge=1, le=100, description="Items per page (1 to 100)")
    cursor: str | None = Field(None, max_length=512, json_schema_extra={"pattern": CURSOR_PATTERN},
                               description="`next_cursor` of the previous page; one that this "
                               "list did not issue to the caller is a 400")


class Viewer(BaseModel):
    user_id: str
    viewed_at: datetime
    reaction: str | None = None


class ViewerPage(BaseModel):
    items: list[Viewer] = Field(description="Most recent first view first")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class OptionResult(BaseModel):
    index: int
    text: str | None = None
    count: int
    correct: bool | None = Field(None, description="Quiz only")


class SliderResult(BaseModel):
    count: int
    mean: float | None


class StickerResult(BaseModel):
    sticker_id: str
    kind: str | None = Field(description="null when the story's definition is no longer kept")
    prompt: str | None = None
    answers: int
    options: list[OptionResult] = Field(default_factory=list)
    slider: SliderResult | None = None


class Insights(BaseModel):
    story_id: str
    views: int
    unique_viewers: int
    replies: int
    reactions: dict[str, int]
    stickers: list[StickerResult]


class HighlightOut(BaseModel):
    highlight_id: str
    title: str
    stories: list[StoryOut] = Field(description="The ones the caller may see, in the owner's order")
    stories_truncated: bool = Field(
        False, description=f"The highlight holds more than {MAX_HIGHLIGHT_STORIES} stories: "
        "only the first are listed")


class HighlightList(BaseModel):
    items: list[HighlightOut] = Field(description="Newest first")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class ReactionOut(BaseModel):
    story_id: str
    emoji: str
    reacted_at: datetime


class AnswerOut(BaseModel):
    story_id: str
    sticker_id: str
    text: str = Field(description="What the user wrote to the question sticker")
    answered_at: datetime


class AccountExport(BaseModel):
    """Everything the product holds about the caller that they may see (docs/privacy.md)."""

    user_id: str
    exported_at: datetime
    stories: list[StoryOut] = Field(description="Their active, processing or rejected stories, "
                                                "oldest first, as their author sees them")
    highlights: list[HighlightOut] = Field(description="Their highlights, oldest first, with the "
                                                       "stories they keep")
    following: list[str] = Field(description="Whom they follow, in user id order")
    followers: list[str] = Field(description="Who follows them, in user id order")
    close_friends: list[str] = Field(description="Their close-friends list, in user id order")
    reactions: list[ReactionOut] = Field(
        description="Their reactions to other people's stories still kept (the viewer lists' "
                    "lifetime)")
    answers: list[AnswerOut] = Field(
        description="Their written answers to question stickers still kept (poll and slider "
                    "answers are only counted, never stored with the user)")


class Friend(BaseModel):
    user_id: str


class FriendPage(BaseModel):
    items: list[Friend] = Field(description="In user id order")
    next_cursor: str | None = Field(None, description=NEXT_CURSOR)


class Health(BaseModel):
    status: HealthStatus = HealthStatus.OK
    version: str = Field(VERSION, description="The release of the product serving this request")


class Readiness(BaseModel):
    status: ReadinessStatus
    checks: dict[str, str]
