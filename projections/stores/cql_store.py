"""The CQL read models: story records, follow graph, viewer lists, question answers, highlights.

Prepared statements, written concurrently per batch. TTLs come from absolute expiry times.
Where the first write must win (a viewer's first view, a user's first answer), cells are
written with a timestamp that falls as event time rises, so a later or replayed write loses.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import PreparedStatement

from projections.model import Story

__all__ = ["CqlReadModels", "CqlBatch", "VIEWER_BUCKETS", "viewer_bucket", "first_wins_ts"]

VIEWER_BUCKETS = 8  # a hot story's viewers spread over this many partitions
FIRST_WINS_BASE = 1 << 60  # above any real microsecond timestamp
DELETE_TS = FIRST_WINS_BASE + 1  # shadows every cell of a deleted story, first-wins ones too


def viewer_bucket(viewer_id: str) -> int:
    return zlib.crc32(viewer_id.encode()) % VIEWER_BUCKETS


def first_wins_ts(at_ms: int) -> int:
    """A write timestamp that is larger for earlier events."""
    return FIRST_WINS_BASE - at_ms * 1000


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


STATEMENTS = {
    "put_story": (
        "INSERT INTO stories (story_id, author_id, posted_at, expires_at, kind, body, caption,"
        " media_id, audience_mode, audience_ids, stickers, status, renditions, rejection)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
    ),
    "get_story": "SELECT * FROM stories WHERE story_id = ?",
    "delete_story": "DELETE FROM stories USING TIMESTAMP ? WHERE story_id = ?",
    "follow": (
        "INSERT INTO followers (user_id, follower_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?"
    ),
    "follow_rev": (
        "INSERT INTO following (user_id, followee_id, since) VALUES (?, ?, ?) USING TIMESTAMP ?"
    ),
    "unfollow": "DELETE FROM followers USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?",
    "unfollow_rev": "DELETE FROM following USING TIMESTAMP ? WHERE user_id = ? AND followee_id = ?",
    "close_friends": (
        "INSERT INTO close_friends (user_id, friend_ids, changed_at) VALUES (?, ?, ?)"
        " USING TIMESTAMP ?"
    ),
    "view": (
        "INSERT INTO story_viewers (story_id, bucket, viewer_id, viewed_at) VALUES (?, ?, ?, ?)"
        " USING TTL ? AND TIMESTAMP ?"
    ),
    "react": (
        "UPDATE story_viewers USING TTL ? AND TIMESTAMP ? SET reaction = ?, reacted_at = ?"
        " WHERE story_id = ? AND bucket = ? AND viewer_id = ?"
    ),
    "drop_viewers": (
        "DELETE FROM story_viewers USING TIMESTAMP ? WHERE story_id = ? AND bucket = ?"
    ),
    "answer": (
        "INSERT INTO sticker_answers (story_id, sticker_id, user_id, answered_at, option_index,"
        " slider_value, answer_text) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ? AND TIMESTAMP ?"
    ),
    "drop_answers": (
        "DELETE FROM sticker_answers USING TIMESTAMP ? WHERE story_id = ?"
    ),
    "viewers_page": (
        "SELECT viewer_id, viewed_at, reaction FROM story_viewers"
        " WHERE story_id = ? AND bucket = ? AND viewer_id > ? LIMIT ?"
    ),
    "answers": (
        "SELECT user_id, answered_at, answer_text FROM sticker_answers"
        " WHERE story_id = ? AND sticker_id = ? AND user_id > ? LIMIT ?"
    ),
    "close_friends_of": "SELECT friend_ids FROM close_friends WHERE user_id = ?",
}


class CqlReadModels:
    """Prepared statements over the session's keyspace (one read-model version)."""

    def __init__(self, session: Session):
        if not session.keyspace:
            raise ValueError("the session must be bound to the read-model keyspace")
        self.session = session
        self.stmt: dict[str, PreparedStatement] = {
            name: session.prepare(cql) for name, cql in STATEMENTS.items()
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

    def story(self, story_id: str) -> Any:
        return self.session.execute(self.stmt["get_story"], (story_id,)).one()


class CqlBatch:
    """Buffers bound statements; `flush()` runs them concurrently and fails loudly."""

    def __init__(self, models: CqlReadModels):
        self.m = models
        self.pending: list[tuple[PreparedStatement, tuple[Any, ...]]] = []

    def _add(self, name: str, params: tuple[Any, ...]) -> None:
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

    def flush(self, concurrency: int = 64) -> None:
        if self.pending:
            execute_concurrent(
                self.m.session, self.pending, concurrency=concurrency, raise_on_first_error=True
            )
        self.pending = []
