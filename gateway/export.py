"""A user's copy of everything the read models hold about them that they may see (data
portability): their stories and highlights as their author sees them, their follows both ways
and close friends, and their reactions and written answers on other people's stories.

Read from the serving read models like any other read; the stories they engaged with are found
through the user's own engagement trace (`eg:{user}`), so nothing is scanned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.clock import from_ms, now_ms
from gateway.context import Gateway
from gateway.reads import highlights_for
from gateway.routes.highlights import present_highlights

__all__ = ["account_export", "ALL_HIGHLIGHTS"]

ALL_HIGHLIGHTS = 10_000  # more than anyone keeps; the export is one document


def account_export(gw: Gateway, user_id: str) -> dict[str, Any]:
    """The export document (`AccountExport`)."""
    redis, now = gw.models.redis, now_ms()
    own = sorted(redis.author_stories(user_id), key=lambda s: (s.posted_at, s.story_id))
    keys = gw.media_keys.of([s.story_id for s in own if s.renditions])
    highlights = highlights_for(gw.models, user_id, user_id, now, None, ALL_HIGHLIGHTS).items
    traces = redis.traces(user_id)
    reacted = redis.reactions_by(user_id, sorted(traces.reacted))
    answers = gw.models.cql.answers_by(user_id, sorted(traces.answered))
    return {
        "user_id": user_id,
        "exported_at": datetime.now(UTC),
        "stories": [gw.presenter.story(s, user_id, keys.get(s.story_id)) for s in own],
        "highlights": [h.model_dump() for h in present_highlights(gw, user_id, highlights)],
        "following": sorted(redis.following(user_id)),
        "followers": sorted(redis.followers(user_id)),
        "close_friends": sorted(redis.close_friends(user_id)),
        "reactions": [{"story_id": story_id, "emoji": emoji, "reacted_at": from_ms(at)}
                      for story_id, (at, emoji) in sorted(reacted.items())],
        "answers": [{"story_id": story_id, "sticker_id": sticker_id, "text": text,
                     "answered_at": at}
                    for story_id, sticker_id, at, text in answers],
    }
