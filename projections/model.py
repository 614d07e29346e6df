"""The story read model and the rules of who may see it. Pure: no I/O."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from core.clock import to_ms

__all__ = [
    "Story",
    "TrayEntry",
    "story_from_posted",
    "with_media",
    "with_rejection",
    "may_see",
    "tray_entry",
]

PROCESSING, READY, REJECTED = "processing", "ready", "rejected"


@dataclass(frozen=True, slots=True)
class Story:
    """One story as readers see it, with its audience as it was at posting."""

    story_id: str
    author_id: str
    posted_at: int
    expires_at: int
    kind: str
    text: str | None = None
    caption: str | None = None
    media_id: str | None = None
    audience_mode: str = "FOLLOWERS"
    audience_ids: frozenset[str] = frozenset()
    stickers: tuple[dict[str, Any], ...] = ()
    status: str = READY
    renditions: tuple[dict[str, Any], ...] = ()
    rejection: str | None = None
    # The media key, wrapped (projections.stores.story_keys): readers get it without a CQL
    # round, and this copy opens nothing without the key-encryption key kept in CQL.
    media_key: bytes | None = None

    def is_active(self, now_ms: int) -> bool:
        return self.expires_at > now_ms

    @property
    def thumbnail_key(self) -> str | None:
        return next((r["key"] for r in self.renditions if r["name"] == "thumbnail"), None)

    def to_json(self) -> bytes:
        """Compact form stored in Redis."""
        fields: dict[str, Any] = {
            "id": self.story_id,
            "a": self.author_id,
            "t": self.posted_at,
            "x": self.expires_at,
            "k": self.kind,
            "tx": self.text,
            "c": self.caption,
            "m": self.media_id,
            "am": self.audience_mode,
            "ai": sorted(self.audience_ids),
            "st": self.stickers,
            "s": self.status,
            "r": self.renditions,
            "rj": self.rejection,
        }
        if self.media_key is not None:
            fields["mk"] = _b64(self.media_key)
        return orjson.dumps(fields)

    @classmethod
    def from_json(cls, data: bytes | str) -> Story:
        d = orjson.loads(data)
        return cls(
            story_id=d["id"],
            author_id=d["a"],
            posted_at=d["t"],
            expires_at=d["x"],
            kind=d["k"],
            text=d["tx"],
            caption=d["c"],
            media_id=d["m"],
            audience_mode=d["am"],
            audience_ids=frozenset(d["ai"]),
            stickers=tuple(d["st"]),
            status=d["s"],
            renditions=tuple(d["r"]),
            rejection=d["rj"],
            media_key=_unb64(d.get("mk")),
        )


def story_from_posted(record: Mapping[str, Any]) -> Story:
    """The read model of a freshly posted story: text is ready at once, media waits."""
    audience = record["audience"]
    return Story(
        story_id=record["story_id"],
        author_id=record["actor_id"],
        posted_at=to_ms(record["occurred_at"]),
        expires_at=to_ms(record["expires_at"]),
        kind=record["kind"],
        text=record.get("text"),
        caption=record.get("caption"),
        media_id=record.get("media_id"),
        audience_mode=audience["mode"],
        audience_ids=frozenset(audience["user_ids"]),
        stickers=tuple(dict(s) for s in record.get("stickers", ())),
        status=READY if record["kind"] == "TEXT" else PROCESSING,
    )


def with_media(story: Story, record: Mapping[str, Any], media_key: bytes | None = None
               ) -> Story:
    """The story once its renditions exist, with its wrapped media key when it has one."""
    renditions = tuple(dict(r) for r in record["renditions"])
    return replace(story, status=READY, renditions=renditions, rejection=None,
                   media_key=media_key)


def with_rejection(story: Story, record: Mapping[str, Any]) -> Story:
    """The story whose upload was refused: only its author still sees it, with the reason."""
    return replace(story, status=REJECTED, rejection=record["reason"], media_key=None)


def may_see(story: Story, viewer_id: str, follows_author: bool, now_ms: int) -> bool:
    """The privacy rule: the author always; others only a ready, active story in its audience."""
    if viewer_id == story.author_id:
        return story.is_active(now_ms)
    if story.status != READY or not story.is_active(now_ms):
        return False
    mode, listed = story.audience_mode, viewer_id in story.audience_ids
    if mode == "FOLLOWERS":
        return follows_author
    if mode == "FOLLOWERS_EXCEPT":
        return follows_author and not listed
    return listed  # ONLY and CLOSE_FRIENDS name their audience at posting


@dataclass(frozen=True, slots=True)
class TrayEntry:
    """What a viewer's tray holds for one author."""

    author_id: str
    latest_story_id: str
    latest_at: int
    expires_at: int
    thumbnail_key: str | None
    # (story id, expires at) of every story of the author the viewer may see, oldest first;
    # empty in entries stored before it was kept, which stand for their latest story only.
    stories: tuple[tuple[str, int], ...] = ()
    media_key: bytes | None = None  # the latest story's, wrapped, for its thumbnail

    def visible(self) -> tuple[tuple[str, int], ...]:
        """The stories whose views decide whether the author is still unseen."""
        return self.stories or ((self.latest_story_id, self.expires_at),)

    def active_story_ids(self, now_ms: int) -> list[str]:
        """The visible stories that have not expired: any of them unseen makes the author unseen."""
        return [story_id for story_id, expires_at in self.visible() if expires_at > now_ms]

    def to_json(self) -> bytes:
        fields: dict[str, Any] = {"s": self.latest_story_id, "t": self.latest_at,
                                  "x": self.expires_at, "th": self.thumbnail_key}
        if self.stories:
            fields["v"] = self.stories
        if self.media_key is not None:
            fields["mk"] = _b64(self.media_key)
        return orjson.dumps(fields)

    @classmethod
    def from_json(cls, author_id: str, data: bytes | str) -> TrayEntry:
        d = orjson.loads(data)
        stories = tuple((story_id, expires_at) for story_id, expires_at in d.get("v", ()))
        return cls(author_id, d["s"], d["t"], d["x"], d["th"], stories, _unb64(d.get("mk")))


def tray_entry(
    stories: Iterable[Story], viewer_id: str, follows_author: bool, now_ms: int
) -> TrayEntry | None:
    """The viewer's tray entry for one author, or None when nothing of theirs is visible."""
    visible = sorted(
        (s for s in stories
         if s.author_id != viewer_id and may_see(s, viewer_id, follows_author, now_ms)),
        key=lambda s: (s.posted_at, s.story_id),
    )
    if not visible:
        return None
    latest = visible[-1]
    # The entry lives as long as the last visible story does.
    expires = max(s.expires_at for s in visible)
    return TrayEntry(latest.author_id, latest.story_id, latest.posted_at, expires,
                     latest.thumbnail_key, tuple((s.story_id, s.expires_at) for s in visible),
                     latest.media_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return base64.b64decode(text) if text else None
