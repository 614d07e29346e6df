"""The CQL read models of one version, read back whole into the stores' common form.

For checks (the contract suite, live == replay) and support tools: it scans whole tables, so
it is never on a request path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.clock import to_ms
from projections.catalogue import CQL_TABLES
from projections.folds.highlights import Highlight
from projections.model import Story

if TYPE_CHECKING:
    from projections.stores.cql_store import CqlReadModels

__all__ = ["cql_dump", "RECORD_STATE_PARTS", "story_from_row"]

RECORD_STATE_PARTS = ("stories", "followers", "following", "close_friends", "viewers", "answers",
                      "highlights", "highlight_members", "kept")


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment.replace(tzinfo=UTC))


def story_from_row(row: Any) -> Story:
    """The story a `stories` row holds."""
    import orjson

    return Story(
        story_id=row.story_id, author_id=row.author_id, posted_at=_ms(row.posted_at) or 0,
        expires_at=_ms(row.expires_at) or 0, kind=row.kind, text=row.body, caption=row.caption,
        media_id=row.media_id, audience_mode=row.audience_mode,
        audience_ids=frozenset(row.audience_ids or ()),
        stickers=tuple(orjson.loads(row.stickers or "[]")), status=row.status,
        renditions=tuple(orjson.loads(row.renditions or "[]")), rejection=row.rejection,
    )


def _put(state: dict[str, Any], part: str, owner: Any, key: Any, value: Any) -> None:
    state[part].setdefault(owner, {})[key] = value


_ROWS: dict[str, Callable[[dict[str, Any], Any], None]] = {
    "stories": lambda s, r: s["stories"].__setitem__(r.story_id, story_from_row(r)),
    "followers": lambda s, r: _put(s, "followers", r.user_id, r.follower_id, _ms(r.since)),
    "following": lambda s, r: _put(s, "following", r.user_id, r.followee_id, _ms(r.since)),
    "close_friends": lambda s, r: s["close_friends"].__setitem__(
        r.user_id, (tuple(sorted(r.friend_ids or ())), _ms(r.changed_at))),
    "story_viewers": lambda s, r: _put(s, "viewers", r.story_id, r.viewer_id,
                                       (_ms(r.viewed_at), r.reaction, _ms(r.reacted_at))),
    "sticker_answers": lambda s, r: _put(s, "answers", r.story_id, (r.sticker_id, r.user_id),
                                         (_ms(r.answered_at), r.option_index, r.slider_value,
                                          r.answer_text)),
    "highlights": lambda s, r: s["highlights"].__setitem__(
        (r.owner_id, r.highlight_id),
        Highlight(r.owner_id, r.highlight_id, r.title, tuple(r.story_ids or ()),
                  _ms(r.created_at) or 0, _ms(r.updated_at) or 0)),
    "story_highlights": lambda s, r: s["highlight_members"].setdefault(r.story_id, set()).add(
        r.highlight_id),
    "kept_stories": lambda s, r: s["kept"].__setitem__(r.story_id, Story.from_json(r.story)),
}


def cql_dump(models: CqlReadModels) -> dict[str, Any]:
    """Every row of this version's tables, empty parts left out."""
    state: dict[str, Any] = {part: {} for part in RECORD_STATE_PARTS}
    keyspaces = dict(models.keyspace)
    for table, projection in CQL_TABLES.items():
        for row in models.session.execute(f"SELECT * FROM {keyspaces[projection]}.{table}"):
            _ROWS[table](state, row)
    return {part: value for part, value in state.items() if value}
