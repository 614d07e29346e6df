"""The CQL read models: story records, follow graph, viewer lists, question answers, highlights.

Prepared statements, written concurrently per batch. TTLs come from absolute expiry times.
Where the first write must win (a viewer's first view, a user's first answer), cells are
written with a timestamp that falls as event time rises, so a later or replayed write loses.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType, BoundStatement, PreparedStatement

from core.clock import from_ms, to_ms
from projections.catalogue import CQL_TABLES, PROJECTIONS
from projections.folds.highlights import Highlight
from projections.model import Story
from projections.stores.cql_batches import DEFAULT_SHAPE, BatchShape, batches_by_owner, one_owner
from projections.stores.cql_dump import cql_dump

__all__ = [
    "CqlReadModels", "CqlBatch", "VIEWER_BUCKETS", "viewer_bucket", "first_wins_ts",
    "unlogged_batches", "partition_owner",
]

VIEWER_BUCKETS = 8  # a hot story's viewers spread over this many partitions
# Engagement and follow-graph rows carry their own USING TIMESTAMP, so sending them in unlogged
# batches changes nothing but the number of requests (shape: `STORIES_CQL_BATCH_*`).
GROUPED = frozenset({"view", "react", "answer", "follow", "follow_rev", "unfollow", "unfollow_rev",
                     "close_friends"})
FIRST_WINS_BASE = 1 << 60  # above any real microsecond timestamp
DELETE_TS = FIRST_WINS_BASE + 1  # shadows every cell of a deleted story, first-wins ones too


def viewer_bucket(viewer_id: str) -> int:
    return zlib.crc32(viewer_id.encode()) % VIEWER_BUCKETS


def first_wins_ts(at_ms: int) -> int:
    """A write timestamp that is larger for earlier events."""
    return FIRST_WINS_BASE - at_ms * 1000


def _dt(ms: int) -> datetime:
    return from_ms(ms)


STATEMENTS = {
    "put_story": (
        "INSERT INTO {ks}.stories (story_id, author_id, posted_at, expires_at, kind, body, caption,"
        " media_id, audience_mode, audience_ids, stickers, status, renditions, rejection)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    ),
    "get_story": "SELECT * FROM {ks}.stories WHERE story_id = ?",
    "delete_story": "DELETE FROM {ks}.stories USING TIMESTAMP ? WHERE story_id = ?",
    "expire_story": "DELETE FROM {ks}.stories WHERE story_id = ?",
    "follow": (
        "INSERT INTO {ks}.followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?"
    ),
    "follow_rev": (
        "INSERT INTO {ks}.following (user_id, followee_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?"
    ),
    "unfollow": "DELETE FROM {ks}.followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
    "unfollow_rev": "DELETE FROM {ks}.following USING TIMESTAMP ? WHERE user_id = ? AND followee_id = ?",
    "close_friends": (
        "INSERT INTO {ks}.close_friends (user_id, friend_ids, changed_at) VALUES (?, ?, ?)"
        " USING TIMESTAMP ?"
    ),
    "view": (
        "INSERT INTO {ks}.story_viewers (story_id, bucket, viewer_id, viewed_at) VALUES (?, ?, ?, ?)"
        " USING TTL ? AND TIMESTAMP ?"
    ),
    "react": (
        "UPDATE {ks}.story_viewers USING TTL ? AND TIMESTAMP ? SET reaction = ?, reacted_at = ?"
        " WHERE story_id = ? AND bucket = ? AND viewer_id = ?"
    ),
    "drop_viewers": (
        "DELETE FROM {ks}.story_viewers USING TIMESTAMP ? WHERE story_id = ? AND bucket = ?"
    ),
    "answer": (
        "INSERT INTO {ks}.sticker_answers (story_id, sticker_id, user_id, answered_at, option_index,"
        " slider_value, answer_text) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?"
    ),
    "drop_answers": (
        "DELETE FROM {ks}.sticker_answers USING TIMESTAMP ? WHERE story_id = ?"
    ),
    "forget_viewer": (
        "DELETE FROM {ks}.story_viewers USING TIMESTAMP ?"
        " WHERE story_id = ? AND bucket = ? AND viewer_id = ?"
    ),
    "forget_answer": (
        "DELETE FROM {ks}.sticker_answers USING TIMESTAMP ?"
        " WHERE story_id = ? AND sticker_id = ? AND user_id = ?"
    ),
    "forget_close_friends": "DELETE FROM {ks}.close_friends USING TIMESTAMP ? WHERE user_id = ?",
    "drop_close_friend": (
        "UPDATE {ks}.close_friends USING TIMESTAMP ? SET friend_ids = friend_ids - ?"
        " WHERE user_id = ?"
    ),
    "viewers_page": (
        "SELECT viewer_id, viewed_at, reaction FROM {ks}.story_viewers"
        " WHERE story_id = ? AND bucket = ? AND viewer_id > ? LIMIT ?"
    ),
    "answers": (
        "SELECT user_id, answered_at, answer_text FROM {ks}.sticker_answers"
        " WHERE story_id = ? AND sticker_id = ? AND user_id > ? LIMIT ?"
    ),
    "own_answer": (
        "SELECT story_id, sticker_id, answered_at, answer_text FROM {ks}.sticker_answers"
        " WHERE story_id = ? AND sticker_id = ? AND user_id = ?"
    ),
    "close_friends_of": "SELECT friend_ids FROM {ks}.close_friends WHERE user_id = ?",
    "get_highlight": "SELECT * FROM {ks}.highlights WHERE owner_id = ? AND highlight_id = ?",
    "highlights_of": "SELECT * FROM {ks}.highlights WHERE owner_id = ?",
    "put_highlight": (
        "INSERT INTO {ks}.highlights (owner_id, highlight_id, title, story_ids, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
    ),
    "delete_highlight": (
        "DELETE FROM {ks}.highlights USING TIMESTAMP ? WHERE owner_id = ? AND highlight_id = ?"
    ),
    "add_member": (
        "INSERT INTO {ks}.story_highlights (story_id, highlight_id) VALUES (?, ?) USING TIMESTAMP ?"
    ),
    "drop_member": (
        "DELETE FROM {ks}.story_highlights USING TIMESTAMP ? WHERE story_id = ? AND highlight_id = ?"
    ),
    "members": "SELECT highlight_id FROM {ks}.story_highlights WHERE story_id = ?",
    "keep": "INSERT INTO {ks}.kept_stories (story_id, author_id, story) VALUES (?, ?, ?)",
    "kept": "SELECT story FROM {ks}.kept_stories WHERE story_id = ?",
    "unkeep": "DELETE FROM {ks}.kept_stories WHERE story_id = ?",
}


def _qualified(cql: str, keyspaces: Mapping[str, str]) -> str:
    """Each table named with the keyspace of the projection that owns it."""
    return re.sub(r"\{ks\}\.(\w+)", lambda m: f"{keyspaces[CQL_TABLES[m[1]]]}.{m[1]}", cql)


class CqlReadModels:
    """Prepared statements over one keyspace (one read-model version)."""

    def __init__(self, session: Session, keyspace: str | Mapping[str, str],
                 shape: BatchShape = DEFAULT_SHAPE):
        """`keyspace`: one for every projection, or one per projection name; `shape`: of the
        unlogged batches its writes are sent in."""
        self.session = session
        self.shape = shape
        keyspaces = (
            dict.fromkeys(PROJECTIONS, keyspace) if isinstance(keyspace, str) else dict(keyspace)
        )
        self.keyspace = tuple(sorted(keyspaces.items()))  # identity of this set of versions
        self.stmt: dict[str, PreparedStatement] = {
            name: session.prepare(_qualified(cql, keyspaces)) for name, cql in STATEMENTS.items()
        }

    def batch(self) -> CqlBatch:
        return CqlBatch(self)

    def viewers_page(
        self, story_id: str, bucket: int, after: str, limit: int
    ) -> list[tuple[str, datetime, str | None]]:
        rows = self.session.execute(self.stmt["viewers_page"], (story_id, bucket, after, limit))
        return [(r.viewer_id, r.viewed_at.replace(tzinfo=UTC), r.reaction) for r in rows]

    def question_answers(
        self, story_id: str, sticker_id: str, after: str, limit: int
    ) -> list[tuple[str, datetime, str]]:
        rows = self.session.execute(self.stmt["answers"], (story_id, sticker_id, after, limit))
        return [(r.user_id, r.answered_at.replace(tzinfo=UTC), r.answer_text) for r in rows]

    def answers_by(self, user_id: str, stickers: Sequence[tuple[str, str]]
                   ) -> list[tuple[str, str, datetime, str]]:
        """The user's written answers to these (story, sticker) pairs that are still kept:
        (story, sticker, answered at, text), fetched concurrently."""
        rows = self._concurrently("own_answer", [(s, k, user_id) for s, k in stickers])
        return [(r.story_id, r.sticker_id, r.answered_at.replace(tzinfo=UTC), r.answer_text)
                for found in rows for r in found]

    def story(self, story_id: str) -> Any:
        return self.session.execute(self.stmt["get_story"], (story_id,)).one()

    def highlight(self, owner_id: str, highlight_id: str) -> Highlight | None:
        row = self.session.execute(self.stmt["get_highlight"], (owner_id, highlight_id)).one()
        return _highlight(row) if row else None

    def highlights_of(self, owner_id: str) -> list[Highlight]:
        rows = self.session.execute(self.stmt["highlights_of"], (owner_id,))
        return sorted((_highlight(r) for r in rows), key=lambda h: (h.created_at, h.highlight_id))

    def highlight_ids_holding(self, story_id: str) -> set[str]:
        return {r.highlight_id for r in self.session.execute(self.stmt["members"], (story_id,))}

    def highlight_ids_holding_each(self, story_ids: Sequence[str]) -> dict[str, set[str]]:
        """The highlights holding each of these stories, fetched concurrently."""
        rows = self._concurrently("members", [(s,) for s in story_ids])
        return {s: {r.highlight_id for r in found} for s, found in zip(story_ids, rows, strict=True)}

    def highlights(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Highlight | None]:
        """Many highlights by (owner, highlight id), fetched concurrently."""
        rows = self._concurrently("get_highlight", list(keys))
        return {key: (_highlight(found[0]) if found else None)
                for key, found in zip(keys, rows, strict=True)}

    def _concurrently(self, statement: str, params: list[tuple[Any, ...]]) -> list[list[Any]]:
        """One prepared read per parameter tuple, run concurrently; the rows of each."""
        if not params:
            return []
        results = execute_concurrent(self.session, [(self.stmt[statement], p) for p in params],
                                     concurrency=32, raise_on_first_error=True)
        return [list(rows) for _, rows in results]

    def dump(self) -> dict[str, Any]:
        """Every read model of this version in the stores' common form (for checks; scans)."""
        return cql_dump(self)

    def kept_stories(self, story_ids: list[str]) -> dict[str, Story]:
        """Stories kept past their expiry by highlights, fetched concurrently."""
        if not story_ids:
            return {}
        results = execute_concurrent(
            self.session, [(self.stmt["kept"], (s,)) for s in story_ids], concurrency=32
        )
        kept = {}
        for story_id, (ok, rows) in zip(story_ids, results, strict=True):
            row = rows.one() if ok else None
            if row is not None:
                kept[story_id] = Story.from_json(row.story)
        return kept


def _highlight(row: Any) -> Highlight:
    return Highlight(
        row.owner_id, row.highlight_id, row.title, tuple(row.story_ids or ()),
        _ms(row.created_at), _ms(row.updated_at),
    )


def _ms(moment: datetime) -> int:
    return to_ms(moment.replace(tzinfo=UTC))


class CqlBatch:
    """Buffers bound statements; `flush()` runs them concurrently and fails loudly."""

    def __init__(self, models: CqlReadModels):
        self.m = models
        self.pending: list[tuple[PreparedStatement | BatchStatement, tuple[Any, ...] | None]] = []
        self.partitions: dict[tuple[str, str, bytes], list[BoundStatement]] = {}

    def _add(self, name: str, params: tuple[Any, ...]) -> None:
        if name in GROUPED:
            bound = self.m.stmt[name].bind(params)
            self.partitions.setdefault((bound.keyspace, bound.table, bound.routing_key), []
                                       ).append(bound)
        else:
            self.pending.append((self.m.stmt[name], params))

    def put_story(self, story: Story, ttl: int) -> None:
        self._add("put_story", (
            story.story_id, story.author_id, _dt(story.posted_at), _dt(story.expires_at),
            story.kind, story.text, story.caption, story.media_id, story.audience_mode,
            set(story.audience_ids), orjson.dumps(story.stickers).decode(), story.status,
            orjson.dumps(story.renditions).decode(), story.rejection, ttl,
        ))

    def delete_story(self, story_id: str) -> None:
        """Remove the story for good: later or replayed writes to it stay shadowed."""
        self._add("delete_story", (DELETE_TS, story_id))
        self.drop_identities(story_id)

    def expire_story(self, story_id: str) -> None:
        """At expiry the record and every identity attached to it go (the TTL is a backstop)."""
        self._add("expire_story", (story_id,))
        self.drop_identities(story_id)

    def drop_identities(self, story_id: str) -> None:
        """Who viewed and what they answered goes with the story."""
        for bucket in range(VIEWER_BUCKETS):
            self._add("drop_viewers", (DELETE_TS, story_id, bucket))
        self._add("drop_answers", (DELETE_TS, story_id))

    def follow(self, follower_id: str, followee_id: str, at_ms: int) -> None:
        since, ts = _dt(at_ms), at_ms * 1000
        self._add("follow", (followee_id, follower_id, since, ts))
        self._add("follow_rev", (follower_id, followee_id, since, ts))

    def unfollow(self, follower_id: str, followee_id: str, at_ms: int) -> None:
        ts = at_ms * 1000
        self._add("unfollow", (ts, followee_id, follower_id))
        self._add("unfollow_rev", (ts, follower_id, followee_id))

    def close_friends(self, user_id: str, friend_ids: Iterable[str], at_ms: int) -> None:
        self._add("close_friends", (user_id, set(friend_ids), _dt(at_ms), at_ms * 1000))

    def view(self, story_id: str, viewer_id: str, at_ms: int, ttl: int) -> None:
        self._add("view", (
            story_id, viewer_bucket(viewer_id), viewer_id, _dt(at_ms), ttl, first_wins_ts(at_ms)
        ))

    def react(self, story_id: str, user_id: str, emoji: str, at_ms: int, ttl: int) -> None:
        self._add("react", (
            ttl, at_ms * 1000, emoji, _dt(at_ms), story_id, viewer_bucket(user_id), user_id
        ))

    def answer(self, record: dict[str, Any], at_ms: int, ttl: int) -> None:
        self._add("answer", (
            record["story_id"], record["sticker_id"], record["actor_id"], _dt(at_ms),
            record.get("option_index"), record.get("slider_value"), record.get("text"),
            ttl, first_wins_ts(at_ms),
        ))

    def put_highlight(self, highlight: Highlight, at_ms: int) -> None:
        h = highlight
        self._add("put_highlight", (
            h.owner_id, h.highlight_id, h.title, list(h.story_ids), _dt(h.created_at),
            _dt(h.updated_at), at_ms * 1000,
        ))

    def delete_highlight(self, owner_id: str, highlight_id: str, at_ms: int) -> None:
        self._add("delete_highlight", (at_ms * 1000, owner_id, highlight_id))

    def add_member(self, story_id: str, highlight_id: str, at_ms: int) -> None:
        self._add("add_member", (story_id, highlight_id, at_ms * 1000))

    def drop_member(self, story_id: str, highlight_id: str, at_ms: int) -> None:
        self._add("drop_member", (at_ms * 1000, story_id, highlight_id))

    def keep(self, story: Story) -> None:
        self._add("keep", (story.story_id, story.author_id, story.to_json().decode()))

    def unkeep(self, story_id: str) -> None:
        self._add("unkeep", (story_id,))

    # Erasure: shadowed for good, first-wins cells too (an erased user never comes back).
    def forget_viewer(self, story_id: str, viewer_id: str) -> None:
        self._add("forget_viewer", (DELETE_TS, story_id, viewer_bucket(viewer_id), viewer_id))

    def forget_answer(self, story_id: str, sticker_id: str, user_id: str) -> None:
        self._add("forget_answer", (DELETE_TS, story_id, sticker_id, user_id))

    def forget_close_friends(self, user_id: str) -> None:
        self._add("forget_close_friends", (DELETE_TS, user_id))

    def drop_close_friend(self, user_id: str, friend_id: str, at_ms: int) -> None:
        """One friend out of a list, as of `at_ms` (an erasure of that friend)."""
        self._add("drop_close_friend", (at_ms * 1000, {friend_id}, user_id))

    def flush(self, concurrency: int = 64) -> None:
        batches = unlogged_batches(self.m.session, self.partitions, self.m.shape)
        statements = self.pending + [(b, None) for b in batches]
        if statements:
            execute_concurrent(
                self.m.session, statements, concurrency=concurrency, raise_on_first_error=True
            )
        self.pending = []
        self.partitions = {}


def unlogged_batches(session: Session, partitions: Mapping[tuple[str, str, bytes],
                                                           list[BoundStatement]],
                     shape: BatchShape = DEFAULT_SHAPE) -> list[BatchStatement]:
    """Rows of one partition together, partitions of one replica packed up to the shape."""
    owner = partition_owner(session)
    return [_unlogged(rows) for rows in batches_by_owner(partitions, owner, shape, _value_bytes)]


def _value_bytes(bound: BoundStatement) -> int:
    return sum(len(value) for value in bound.values if isinstance(value, bytes))


def partition_owner(session: Session) -> Callable[[tuple[str, str, bytes]], str]:
    """The node a batch of a partition goes to; one host owns everything, unasked."""
    metadata = session.cluster.metadata
    if len(metadata.all_hosts()) <= 1:
        return one_owner

    def first_replica(partition: tuple[str, str, bytes]) -> str:
        keyspace, _, key = partition
        replicas = metadata.get_replicas(keyspace, key)
        return str(replicas[0].endpoint) if replicas else ""

    return first_replica


def _unlogged(rows: list[BoundStatement]) -> BatchStatement:
    batch = BatchStatement(batch_type=BatchType.UNLOGGED)
    for bound in rows:
        batch.add(bound)
    return batch
