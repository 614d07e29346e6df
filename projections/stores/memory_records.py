"""The in-memory record store: CQL's storage semantics (cells with write timestamps and TTLs,
row and partition tombstones) in dicts, behind the same Protocol as `CqlReadModels`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from projections.folds.highlights import Highlight
from projections.model import Story
from projections.stores.cql_store import DELETE_TS, first_wins_ts

__all__ = ["MemoryRecordStore", "MemoryRecordWrites"]

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Cell:
    ts: int
    value: Any
    expires_at: int | None  # absolute ms; None for no TTL


class _Table:
    """Rows of cells keyed by primary key; tombstones shadow cells written at or before them."""

    def __init__(self, clock: Callable[[], int]):
        self.clock = clock
        self.rows: dict[Key, dict[str, _Cell]] = {}
        self.row_tombstones: dict[Key, int] = {}
        self.partition_tombstones: dict[Any, int] = {}
        self.partition_of: dict[Key, Any] = {}

    def write(self, key: Key, partition: Any, ts: int, ttl: int, **values: Any) -> None:
        expires = self.clock() + ttl * 1000 if ttl else None
        cells = self.rows.setdefault(key, {})
        for column, value in {"": True, **values}.items():  # "" is the row marker
            old = cells.get(column)
            if old is None or ts >= old.ts:
                cells[column] = _Cell(ts, value, expires)
        self.partition_of[key] = partition

    def update(self, key: Key, partition: Any, ts: int, ttl: int, **values: Any) -> None:
        """Like `write` without the row marker: the row lives only while these cells do."""
        expires = self.clock() + ttl * 1000 if ttl else None
        cells = self.rows.setdefault(key, {})
        for column, value in values.items():
            old = cells.get(column)
            if old is None or ts >= old.ts:
                cells[column] = _Cell(ts, value, expires)
        self.partition_of[key] = partition

    def delete_row(self, key: Key, ts: int) -> None:
        self.row_tombstones[key] = max(ts, self.row_tombstones.get(key, ts))

    def delete_partition(self, partition: Any, ts: int) -> None:
        self.partition_tombstones[partition] = max(ts, self.partition_tombstones.get(partition, ts))

    def row(self, key: Key) -> dict[str, Any] | None:
        """The row's live, unshadowed cells (None values included), or None when it is gone."""
        shadow = max(self.row_tombstones.get(key, -1),
                     self.partition_tombstones.get(self.partition_of.get(key), -1))
        now = self.clock()
        live = {c: cell.value for c, cell in self.rows.get(key, {}).items()
                if cell.ts > shadow and (cell.expires_at is None or cell.expires_at > now)}
        if not any(v is not None for v in live.values()):
            return None
        live.pop("", None)
        return live

    def live_rows(self) -> dict[Key, dict[str, Any]]:
        found = {key: self.row(key) for key in list(self.rows)}
        return {key: row for key, row in found.items() if row is not None}


class MemoryRecordStore:
    """Story records, follow tables, viewer lists, answers, highlights and kept stories."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._last_ts = 0
        now = self.now_ms
        self.tables = {name: _Table(now) for name in (
            "stories", "followers", "following", "close_friends", "story_viewers",
            "sticker_answers", "highlights", "story_highlights", "kept_stories")}

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def write_ts(self) -> int:
        """A server-side write timestamp: microseconds, rising with every write."""
        self._last_ts = max(self.now_ms() * 1000, self._last_ts + 1)
        return self._last_ts

    # -- reads -------------------------------------------------------------------------------
    def highlight(self, owner_id: str, highlight_id: str) -> Highlight | None:
        row = self.tables["highlights"].row((owner_id, highlight_id))
        if row is None:
            return None
        return Highlight(owner_id, highlight_id, row.get("title") or "",
                         tuple(row.get("story_ids") or ()), row.get("created_at") or 0,
                         row.get("updated_at") or 0)

    def highlights(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str],
                                                                  Highlight | None]:
        return {key: self.highlight(*key) for key in keys}

    def highlight_ids_holding(self, story_id: str) -> set[str]:
        return {hid for (sid, hid) in self.tables["story_highlights"].live_rows() if sid == story_id}

    def highlight_ids_holding_each(self, story_ids: Sequence[str]) -> dict[str, set[str]]:
        return {s: self.highlight_ids_holding(s) for s in story_ids}

    def kept_stories(self, story_ids: list[str]) -> dict[str, Story]:
        rows = {s: self.tables["kept_stories"].row((s,)) for s in story_ids}
        return {s: row["story"] for s, row in rows.items() if row is not None}

    def highlights_of(self, owner_id: str) -> list[Highlight]:
        found = [self.highlight(*key) for key in self.tables["highlights"].live_rows()
                 if key[0] == owner_id]
        return sorted((h for h in found if h is not None),
                      key=lambda h: (h.created_at, h.highlight_id))

    def batch(self) -> MemoryRecordWrites:
        return MemoryRecordWrites(self)

    def dump(self) -> dict[str, Any]:
        """Every row in the common form of `projections.stores.cql_dump`."""
        state: dict[str, Any] = {}
        for name, table in self.tables.items():
            for key, row in table.live_rows().items():
                _DUMP[name](state, key, row)
        return state


def _put(state: dict[str, Any], part: str, owner: Any, key: Any, value: Any) -> None:
    state.setdefault(part, {}).setdefault(owner, {})[key] = value


def _set(state: dict[str, Any], part: str, key: Any, value: Any) -> None:
    state.setdefault(part, {})[key] = value


_DUMP: dict[str, Callable[[dict[str, Any], Key, dict[str, Any]], None]] = {
    "stories": lambda s, k, r: _set(s, "stories", k[0], r["story"]),
    "followers": lambda s, k, r: _put(s, "followers", k[0], k[1], r.get("since")),
    "following": lambda s, k, r: _put(s, "following", k[0], k[1], r.get("since")),
    "close_friends": lambda s, k, r: _set(s, "close_friends", k[0], (
        tuple(sorted(r.get("friend_ids") or ())), r.get("changed_at"))),
    "story_viewers": lambda s, k, r: _put(s, "viewers", k[0], k[1], (
        r.get("viewed_at"), r.get("reaction"), r.get("reacted_at"))),
    "sticker_answers": lambda s, k, r: _put(s, "answers", k[0], (k[1], k[2]), (
        r.get("answered_at"), r.get("option_index"), r.get("slider_value"),
        r.get("answer_text"))),
    "highlights": lambda s, k, r: _set(s, "highlights", k, Highlight(
        k[0], k[1], r.get("title") or "", tuple(r.get("story_ids") or ()),
        r.get("created_at") or 0, r.get("updated_at") or 0)),
    "story_highlights": lambda s, k, r: s.setdefault("highlight_members", {}).setdefault(
        k[0], set()).add(k[1]),
    "kept_stories": lambda s, k, r: _set(s, "kept", k[0], r["story"]),
}


class MemoryRecordWrites:
    """Applies each write at `flush()`, with the timestamps and TTLs the CQL store uses."""

    def __init__(self, store: MemoryRecordStore):
        self.s = store
        self.pending: list[Callable[[], None]] = []

    def _t(self, name: str) -> _Table:
        return self.s.tables[name]

    def flush(self) -> None:
        for apply in self.pending:
            apply()
        self.pending = []

    def put_story(self, story: Story, ttl: int) -> None:
        self.pending.append(lambda: self._t("stories").write(
            (story.story_id,), story.story_id, self.s.write_ts(), ttl, story=story))

    def delete_story(self, story_id: str) -> None:
        self.pending.append(lambda: self._t("stories").delete_row((story_id,), DELETE_TS))
        self.drop_identities(story_id)

    def expire_story(self, story_id: str) -> None:
        self.pending.append(lambda: self._t("stories").delete_row((story_id,), self.s.write_ts()))
        self.drop_identities(story_id)

    def drop_identities(self, story_id: str) -> None:
        self.pending.append(lambda: self._t("story_viewers").delete_partition(story_id, DELETE_TS))
        self.pending.append(lambda: self._t("sticker_answers").delete_partition(story_id,
                                                                                DELETE_TS))

    def follow(self, follower_id: str, followee_id: str, at_ms: int) -> None:
        self.pending.append(lambda: self._t("followers").write(
            (followee_id, follower_id), followee_id, at_ms * 1000, 0, since=at_ms))
        self.pending.append(lambda: self._t("following").write(
            (follower_id, followee_id), follower_id, at_ms * 1000, 0, since=at_ms))

    def unfollow(self, follower_id: str, followee_id: str, at_ms: int) -> None:
        self.pending.append(lambda: self._t("followers").delete_row((followee_id, follower_id),
                                                                    at_ms * 1000))
        self.pending.append(lambda: self._t("following").delete_row((follower_id, followee_id),
                                                                    at_ms * 1000))

    def close_friends(self, user_id: str, friend_ids: Iterable[str], at_ms: int) -> None:
        friends = frozenset(friend_ids) or None  # CQL stores an empty set as null
        self.pending.append(lambda: self._t("close_friends").write(
            (user_id,), user_id, at_ms * 1000, 0, friend_ids=friends, changed_at=at_ms))

    def view(self, story_id: str, viewer_id: str, at_ms: int, ttl: int) -> None:
        self.pending.append(lambda: self._t("story_viewers").write(
            (story_id, viewer_id), story_id, first_wins_ts(at_ms), ttl, viewed_at=at_ms))

    def react(self, story_id: str, user_id: str, emoji: str, at_ms: int, ttl: int) -> None:
        self.pending.append(lambda: self._t("story_viewers").update(
            (story_id, user_id), story_id, at_ms * 1000, ttl, reaction=emoji, reacted_at=at_ms))

    def answer(self, record: dict[str, Any], at_ms: int, ttl: int) -> None:
        key = (record["story_id"], record["sticker_id"], record["actor_id"])
        self.pending.append(lambda: self._t("sticker_answers").write(
            key, key[0], first_wins_ts(at_ms), ttl, answered_at=at_ms,
            option_index=record.get("option_index"), slider_value=record.get("slider_value"),
            answer_text=record.get("text")))

    def put_highlight(self, highlight: Highlight, at_ms: int) -> None:
        h = highlight
        self.pending.append(lambda: self._t("highlights").write(
            (h.owner_id, h.highlight_id), h.owner_id, at_ms * 1000, 0, title=h.title,
            story_ids=list(h.story_ids) or None, created_at=h.created_at,
            updated_at=h.updated_at))

    def delete_highlight(self, owner_id: str, highlight_id: str, at_ms: int) -> None:
        self.pending.append(lambda: self._t("highlights").delete_row((owner_id, highlight_id),
                                                                     at_ms * 1000))

    def add_member(self, story_id: str, highlight_id: str, at_ms: int) -> None:
        self.pending.append(lambda: self._t("story_highlights").write(
            (story_id, highlight_id), story_id, at_ms * 1000, 0))

    def drop_member(self, story_id: str, highlight_id: str, at_ms: int) -> None:
        self.pending.append(lambda: self._t("story_highlights").delete_row(
            (story_id, highlight_id), at_ms * 1000))

    def keep(self, story: Story) -> None:
        self.pending.append(lambda: self._t("kept_stories").write(
            (story.story_id,), story.story_id, self.s.write_ts(), 0, story=story))

    def forget_viewer(self, story_id: str, viewer_id: str) -> None:
        self.pending.append(lambda: self._t("story_viewers").delete_row((story_id, viewer_id),
                                                                        DELETE_TS))

    def forget_answer(self, story_id: str, sticker_id: str, user_id: str) -> None:
        self.pending.append(lambda: self._t("sticker_answers").delete_row(
            (story_id, sticker_id, user_id), DELETE_TS))

    def drop_close_friend(self, user_id: str, friend_id: str, at_ms: int) -> None:
        """Like CQL's removal of one set element: the rest of the list and its time stay."""
        def apply() -> None:
            table = self._t("close_friends")
            cell = table.rows.get((user_id,), {}).get("friend_ids")
            if cell is None or cell.value is None or friend_id not in cell.value:
                return
            rest = frozenset(cell.value - {friend_id}) or None
            table.rows[(user_id,)]["friend_ids"] = replace(cell, value=rest)
        self.pending.append(apply)

    def forget_close_friends(self, user_id: str) -> None:
        self.pending.append(lambda: self._t("close_friends").delete_row((user_id,), DELETE_TS))

    def unkeep(self, story_id: str) -> None:
        self.pending.append(lambda: self._t("kept_stories").delete_row((story_id,),
                                                                       self.s.write_ts()))
