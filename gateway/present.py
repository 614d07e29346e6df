"""Read models turned into response bodies, with short-lived media URLs and author-only fields."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from core.clock import from_ms, now_ms
from gateway.models import (
    AudienceOut,
    Insights,
    OptionResult,
    Rendition,
    SliderResult,
    StickerOut,
    StickerResult,
    StoryOut,
    TrayItemOut,
    Viewer,
)
from gateway.presign import Presigner
from gateway.reads import StoryInsights
from projections.model import Story
from projections.queries import TrayItem
from projections.stores.cql_reads import ViewerRow

__all__ = ["Presenter", "viewer", "insights", "sticker_results"]

OPTION_KINDS = ("POLL", "QUIZ")


class Presenter:
    """Builds response bodies; media URLs are presigned for `url_seconds`."""

    def __init__(self, presigner: Presigner, url_seconds: int):
        self._presigner = presigner
        self._seconds = url_seconds

    def media_url(self, key: str, seconds: int | None = None) -> str:
        return self._presigner.url("GET", key, seconds or self._seconds)

    def _url_seconds(self, story: Story) -> int:
        """A active story's URLs stop working when it expires; a kept story's last the usual time."""
        left = (story.expires_at - now_ms()) // 1000
        return min(self._seconds, left) if left > 0 else self._seconds

    def story(self, story: Story, viewer_id: str, media_key: bytes | None = None) -> StoryOut:
        """A story as this viewer may see it: audience, status detail and answers for the author."""
        is_author = viewer_id == story.author_id
        return StoryOut(
            story_id=story.story_id,
            author_id=story.author_id,
            kind=story.kind,
            text=story.text,
            caption=story.caption,
            posted_at=from_ms(story.posted_at),
            expires_at=from_ms(story.expires_at),
            stickers=[_sticker(s, is_author) for s in story.stickers],
            media=[self._rendition(r, self._url_seconds(story)) for r in story.renditions],
            media_key=_b64(media_key),
            status=story.status,
            rejection=story.rejection if is_author else None,
            audience=_audience(story) if is_author else None,
        )

    def _rendition(self, rendition: Mapping[str, Any], seconds: int) -> Rendition:
        return Rendition(
            name=rendition["name"],
            url=self.media_url(rendition["key"], seconds),
            key=rendition["key"],
            content_type=rendition["content_type"],
            width=rendition["width"],
            height=rendition["height"],
            duration_ms=rendition.get("duration_ms"),
        )

    def tray_item(self, item: TrayItem, media_key: bytes | None = None) -> TrayItemOut:
        thumbnail = self.media_url(item.thumbnail_key) if item.thumbnail_key else None
        return TrayItemOut(
            author_id=item.author_id,
            has_unseen=item.has_unseen,
            latest_story_id=item.latest_story_id,
            latest_at=from_ms(item.latest_at),
            thumbnail_url=thumbnail,
            thumbnail_key=item.thumbnail_key,
            media_key=_b64(media_key),
            muted=item.muted,
        )


def _b64(key: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(key).decode() if key else None


def _sticker(sticker: Mapping[str, Any], is_author: bool) -> StickerOut:
    """Viewers do not get a quiz's answer with the question."""
    return StickerOut(
        sticker_id=sticker["sticker_id"],
        kind=sticker["kind"],
        prompt=sticker["prompt"],
        options=list(sticker["options"]),
        emoji=sticker.get("emoji"),
        correct_option=sticker.get("correct_option") if is_author else None,
    )


def _audience(story: Story) -> AudienceOut:
    return AudienceOut(mode=story.audience_mode, user_ids=sorted(story.audience_ids))


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
