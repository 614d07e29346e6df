"""Read models turned into response bodies, with short-lived media URLs and author-only fields."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from core.clock import from_ms, now_ms
from gateway.models import (
    Insights,
    OptionResult,
    SliderResult,
    StickerResult,
    Viewer,
)
from gateway.presign import Presigner
from gateway.reads import StoryInsights
from projections.model import Story
from projections.queries import TrayItem
from projections.stores.cql_reads import ViewerRow

__all__ = ["JsonBody", "MinuteUrls", "Presenter", "viewer", "insights", "sticker_results"]

OPTION_KINDS = ("POLL", "QUIZ")


class JsonBody(Response):
    """A body built as plain dicts and serialised once with orjson, skipping the per-item
    validation FastAPI gives a returned model; `UTC_Z` writes datetimes as pydantic does. The
    route's `response_model` still documents the shape, and a test pins the two together."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


class Presenter:
    """Builds response bodies (plain dicts in the shape of `gateway.models`); media URLs are
    presigned for `url_seconds`, and one URL serves every request for the same object within a
    minute."""

    def __init__(self, presigner: Presigner, url_seconds: int):
        self._presigner = presigner
        self._seconds = url_seconds
        self._urls = MinuteUrls(presigner)

    def media_url(self, key: str, seconds: int | None = None) -> str:
        return self._urls.url(key, seconds or self._seconds)

    def _url_seconds(self, story: Story) -> int:
        """A active story's URLs stop working when it expires; a kept story's last the usual time."""
        left = (story.expires_at - now_ms()) // 1000
        return min(self._seconds, left) if left > 0 else self._seconds

    def story(self, story: Story, viewer_id: str, media_key: bytes | None = None
              ) -> dict[str, Any]:
        """A story as this viewer may see it (`StoryOut`): audience, status detail and answers
        for the author."""
        is_author = viewer_id == story.author_id
        seconds = self._url_seconds(story)
        return {
            "story_id": story.story_id,
            "author_id": story.author_id,
            "kind": story.kind,
            "text": story.text,
            "caption": story.caption,
            "posted_at": from_ms(story.posted_at),
            "expires_at": from_ms(story.expires_at),
            "stickers": [_sticker(s, is_author) for s in story.stickers],
            "media": [self._rendition(r, seconds) for r in story.renditions],
            "media_key": _b64(media_key),
            "status": story.status,
            "rejection": story.rejection if is_author else None,
            "audience": _audience(story) if is_author else None,
        }

    def _rendition(self, rendition: Mapping[str, Any], seconds: int) -> dict[str, Any]:
        return {
            "name": rendition["name"],
            "url": self.media_url(rendition["key"], seconds),
            "key": rendition["key"],
            "content_type": rendition["content_type"],
            "width": rendition["width"],
            "height": rendition["height"],
            "duration_ms": rendition.get("duration_ms"),
        }

    def tray_page(self, items: list[TrayItem], keys: Mapping[str, bytes],
                  next_cursor: str | None, truncated: bool) -> dict[str, Any]:
        """A page of the tray (`TrayPage`), each item with its latest story's opened key."""
        return {
            "items": [self.tray_item(item, keys.get(item.latest_story_id)) for item in items],
            "next_cursor": next_cursor,
            "truncated": truncated,
        }

    def tray_item(self, item: TrayItem, media_key: bytes | None = None) -> dict[str, Any]:
        """One author of the tray (`TrayItemOut`)."""
        return {
            "author_id": item.author_id,
            "has_unseen": item.has_unseen,
            "latest_story_id": item.latest_story_id,
            "latest_at": from_ms(item.latest_at),
            "thumbnail_url": self.media_url(item.thumbnail_key) if item.thumbnail_key else None,
            "thumbnail_key": item.thumbnail_key,
            "media_key": _b64(media_key),
            "muted": item.muted,
        }


class MinuteUrls:
    """Presigned GET URLs signed at the start of the current minute, so each object's URL is
    computed once a minute instead of once a request (a URL thus lives up to a minute less than
    `seconds`, never more)."""

    MAX_ENTRIES = 100_000

    def __init__(self, presigner: Presigner, clock: Callable[[], float] = time.time):
        self._presigner = presigner
        self._clock = clock
        self._minute = -1
        self._urls: dict[tuple[str, int], str] = {}

    def url(self, key: str, seconds: int) -> str:
        minute = int(self._clock()) // 60
        if minute != self._minute or len(self._urls) >= self.MAX_ENTRIES:
            self._minute, self._urls = minute, {}
        found = self._urls.get((key, seconds))
        if found is None:
            signed_at = datetime.fromtimestamp(minute * 60, UTC)
            found = self._urls[(key, seconds)] = self._presigner.url("GET", key, seconds,
                                                                     signed_at)
        return found


def _b64(key: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(key).decode() if key else None


def _sticker(sticker: Mapping[str, Any], is_author: bool) -> dict[str, Any]:
    """Viewers do not get a quiz's answer with the question (`StickerOut`)."""
    return {
        "sticker_id": sticker["sticker_id"],
        "kind": sticker["kind"],
        "prompt": sticker["prompt"],
        "options": list(sticker["options"]),
        "emoji": sticker.get("emoji"),
        "correct_option": sticker.get("correct_option") if is_author else None,
    }


def _audience(story: Story) -> dict[str, Any]:
    return {"mode": story.audience_mode, "user_ids": sorted(story.audience_ids)}


def viewer(row: ViewerRow) -> Viewer:
    return Viewer(user_id=row.user_id, viewed_at=row.viewed_at, reaction=row.reaction)


def insights(found: StoryInsights) -> Insights:
    t = found.counters
    return Insights(
        story_id=found.story_id,
        views=t.views,
        unique_viewers=t.unique_viewers,
        replies=t.replies,
        reactions=dict(sorted(t.reactions.items(), key=lambda kv: (-kv[1], kv[0]))),
        stickers=sticker_results(found.stickers, t.stickers),
    )


def sticker_results(
    definitions: Iterable[Mapping[str, Any]] | None, counters: Mapping[str, Mapping[str, float]]
) -> list[StickerResult]:
    """Per-sticker results; stickers whose definition is gone are reported by their counts."""
    known = {d["sticker_id"]: d for d in definitions or ()}
    results = [_defined_result(d, counters.get(sid, {})) for sid, d in known.items()]
    unknown = sorted(set(counters) - known.keys())
    return results + [_counted_result(sid, counters[sid]) for sid in unknown]


def _defined_result(sticker: Mapping[str, Any], counts: Mapping[str, float]) -> StickerResult:
    kind, answers = sticker["kind"], int(counts.get("n", 0))
    result = StickerResult(sticker_id=sticker["sticker_id"], kind=kind, prompt=sticker["prompt"],
                           answers=answers)
    if kind in OPTION_KINDS:
        correct = sticker.get("correct_option") if kind == "QUIZ" else None
        result.options = [
            OptionResult(index=i, text=text, count=int(counts.get(f"o{i}", 0)),
                         correct=(i == correct) if kind == "QUIZ" else None)
            for i, text in enumerate(sticker["options"])
        ]
    elif kind == "EMOJI_SLIDER":
        result.slider = _slider(answers, counts)
    return result


def _counted_result(sticker_id: str, counts: Mapping[str, float]) -> StickerResult:
    answers = int(counts.get("n", 0))
    indexes = sorted(int(f[1:]) for f in counts if f.startswith("o") and f[1:].isdigit())
    return StickerResult(
        sticker_id=sticker_id, kind=None, answers=answers,
        options=[OptionResult(index=i, count=int(counts[f"o{i}"])) for i in indexes],
        slider=_slider(answers, counts) if "sum" in counts else None,
    )


def _slider(answers: int, counts: Mapping[str, float]) -> SliderResult:
    mean = round(counts.get("sum", 0.0) / answers, 4) if answers else None
    return SliderResult(count=answers, mean=mean)
