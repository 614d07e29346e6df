"""Each story's media state and key, in the media keyspace, moved on only by compare-and-set.

One row per story with media: `pending` when the post is seen, `processing` once its key
exists, `processed` with its renditions, or `rejected`; `external` when someone else announced
the outcome; `destroyed` when the story is gone. Every transition is a lightweight
transaction, so two workers (or a redelivered event) can never disagree on the key or the
outcome. The keyspace is not a read-model version: replays never touch it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement

from core.clock import from_ms, to_ms
from projections.migrate import migrate
from projections.stores.story_keys import media_keyspace

__all__ = [
    "PENDING",
    "PROCESSING",
    "PROCESSED",
    "REJECTED",
    "EXTERNAL",
    "DESTROYED",
    "IN_USE",
    "SETTLED_TTL_SECONDS",
    "MediaJob",
    "MediaRecord",
    "MediaStateStore",
    "media_keyspace",
    "ensure_media_schema",
]

PENDING, PROCESSING, PROCESSED = "pending", "processing", "processed"
REJECTED, EXTERNAL, DESTROYED = "rejected", "external", "destroyed"
IN_USE = frozenset({PENDING, PROCESSING, PROCESSED})  # states whose objects are still wanted
SETTLED_TTL_SECONDS = 7 * 86_400  # how long a final row blocks a redelivered post
MIGRATION_FAMILY = "media_"

_ALL_NULL = (
    "key = null, renditions = null, author_id = null, media_id = null, media_kind = null,"
    " posted_at = null, expires_at = null, created_at = null, code = null, reason = null,"
    " announced = null"
)
STATEMENTS = {
    "load": "SELECT * FROM {ks}.media_keys WHERE story_id = ?",
    "key": "SELECT state, key FROM {ks}.media_keys WHERE story_id = ?",
    "scan": (
        "SELECT story_id, state, author_id, media_id, media_kind, posted_at, expires_at,"
        " announced FROM {ks}.media_keys"
    ),
    "register": (
        "UPDATE {ks}.media_keys SET state = 'pending', author_id = ?, media_id = ?,"
        " media_kind = ?, posted_at = ?, expires_at = ?, created_at = ? WHERE story_id = ?"
        " IF state = null"
    ),
    "begin": (
        "UPDATE {ks}.media_keys SET state = 'processing', key = ? WHERE story_id = ?"
        " IF state = 'pending'"
    ),
    "finish": (
        "UPDATE {ks}.media_keys SET state = 'processed', renditions = ?"
        " WHERE story_id = ? IF state = 'processing'"
    ),
    "settle": (
        "UPDATE {ks}.media_keys USING TTL ? SET state = ?, code = ?, reason = ?, author_id = ?,"
        " media_id = ?, media_kind = ?, posted_at = ?, expires_at = ?, key = null,"
        " created_at = null, renditions = null WHERE story_id = ?"
        " IF state IN ('pending', 'processing')"
    ),
    "announce": (
        "UPDATE {ks}.media_keys USING TTL ? SET announced = true WHERE story_id = ?"
        " IF state IN ('processed', 'rejected')"
    ),
    "destroy": (
        "UPDATE {ks}.media_keys USING TTL ? SET state = 'destroyed', destroyed_at = ?, "
        + _ALL_NULL
        + " WHERE story_id = ? IF state != 'destroyed'"
    ),
}
_READS = frozenset({"load", "key", "scan"})


def ensure_media_schema(session: Session, settings: Any) -> str:
    """Create or migrate the media keyspace; returns its name."""
    keyspace = media_keyspace(settings)
    migrate(session, keyspace, settings.cql_replication, family=MIGRATION_FAMILY)
    return keyspace


@dataclass(frozen=True)
class MediaJob:
    """What the media worker needs to know about a posted story."""

    story_id: str
    author_id: str
    media_id: str
    kind: str
    posted_at: int
    expires_at: int
    seen_at: int = 0  # when the media worker first saw the post (0: not registered yet)

    @classmethod
    def from_posted(cls, record: Mapping[str, Any]) -> MediaJob:
        """The job of a StoryPosted record that names an upload."""
        return cls(
            record["story_id"], record["actor_id"], record["media_id"], record["kind"],
            to_ms(record["occurred_at"]), to_ms(record["expires_at"]),
        )

    @property
    def waiting_since(self) -> int:
        """Posting time, or later if the worker saw the post late (it lagged, or a replay)."""
        return max(self.posted_at, self.seen_at)

    def deadline(self, seconds: float) -> int:
        """When a missing upload stops being waited for (epoch ms)."""
        return self.waiting_since + int(seconds * 1000)


@dataclass(frozen=True)
class MediaRecord:
    """One row of the media keyspace."""

    story_id: str
    state: str
    job: MediaJob | None
    key: bytes | None = field(default=None, repr=False)
    renditions: tuple[dict[str, Any], ...] = ()
    code: str | None = None
    reason: str | None = None
    announced: bool = False

    @property
    def in_use(self) -> bool:
        """Its objects and upload are still wanted (unless the story has expired)."""
        return self.state in IN_USE

    @property
    def unfinished(self) -> bool:
        """The job still has something to do: process, or announce what it decided."""
        if self.state in (PENDING, PROCESSING):
            return True
        return self.state in (PROCESSED, REJECTED) and not self.announced


def _dt(ms: int) -> datetime:
    return from_ms(ms)


def _ms(moment: datetime | None) -> int:
    return to_ms(moment.replace(tzinfo=UTC)) if moment is not None else 0


def _record(row: Any) -> MediaRecord:
    """A row, as read by `load` or `scan`."""
    job = None
    if row.author_id is not None:
        job = MediaJob(row.story_id, row.author_id, row.media_id, row.media_kind,
                       _ms(row.posted_at), _ms(row.expires_at),
                       _ms(getattr(row, "created_at", None)))
    renditions = getattr(row, "renditions", None)
    return MediaRecord(
        story_id=row.story_id, state=row.state, job=job, key=getattr(row, "key", None),
        renditions=tuple(orjson.loads(renditions)) if renditions else (),
        code=getattr(row, "code", None), reason=getattr(row, "reason", None),
        announced=bool(getattr(row, "announced", False)),
    )


def settled_ttl(job: MediaJob, now_ms: int) -> int:
    """A final row outlives the story by a week, then disappears."""
    return max(1, (job.expires_at - now_ms) // 1000) + SETTLED_TTL_SECONDS


class MediaStateStore:
    """Prepared statements over the media keyspace, at the session's configured consistency."""

    def __init__(self, session: Session, keyspace: str):
        self.session = session
        self.keyspace = keyspace
        self.stmt = {name: self._prepare(name, cql) for name, cql in STATEMENTS.items()}

    def _prepare(self, name: str, cql: str) -> PreparedStatement:
        statement = self.session.prepare(cql.format(ks=self.keyspace))
        profile = self.session.get_execution_profile(EXEC_PROFILE_DEFAULT)
        statement.consistency_level = profile.consistency_level  # STORIES_CQL_CONSISTENCY
        if name not in _READS:  # compare-and-set at STORIES_CQL_SERIAL_CONSISTENCY
            statement.serial_consistency_level = profile.serial_consistency_level
        return statement

    def _applied(self, name: str, params: tuple[Any, ...]) -> bool:
        return bool(self.session.execute(self.stmt[name], params).was_applied)

    def load(self, story_id: str) -> MediaRecord | None:
        row = self.session.execute(self.stmt["load"], (story_id,)).one()
        return _record(row) if row is not None and row.state is not None else None

    def key_of(self, story_id: str) -> bytes | None:
        """The story's key while its media is servable; None before, after, or never."""
        row = self.session.execute(self.stmt["key"], (story_id,)).one()
        return row.key if row is not None and row.state == PROCESSED else None

    def keys_of(self, story_ids: Iterable[str]) -> dict[str, bytes]:
        """Keys of several stories in one concurrent round; stories without one are left out."""
        ids = list(dict.fromkeys(story_ids))
        results = execute_concurrent_with_args(self.session, self.stmt["key"],
                                               [(s,) for s in ids], concurrency=32)
        keys = {}
        for story_id, (ok, rows) in zip(ids, results, strict=True):
            row = rows.one() if ok else None
            if row is not None and row.state == PROCESSED and row.key is not None:
                keys[story_id] = row.key
        return keys

    def scan(self) -> Iterator[MediaRecord]:
        """Every row, without keys, page by page (for reconciliation)."""
        for row in self.session.execute(self.stmt["scan"]):
            if row.state is not None:
                yield _record(row)

    def register(self, job: MediaJob, now_ms: int) -> bool:
        """Record a posted story's media as pending; False when the story is already known."""
        return self._applied("register", (
            job.author_id, job.media_id, job.kind, _dt(job.posted_at), _dt(job.expires_at),
            _dt(now_ms), job.story_id,
        ))

    def begin(self, story_id: str, key: bytes) -> bytes | None:
        """The key to encrypt with: this one, or the one an earlier attempt stored."""
        if self._applied("begin", (key, story_id)):
            return key
        record = self.load(story_id)
        if record is not None and record.state == PROCESSING and record.key is not None:
            return record.key
        return None

    def finish(self, story_id: str, renditions: list[dict[str, Any]]) -> bool:
        """Mark the renditions stored; False when the story was destroyed meanwhile."""
        return self._applied("finish", (orjson.dumps(renditions).decode(), story_id))

    def settle(self, job: MediaJob, state: str, now_ms: int, code: str | None = None,
               reason: str | None = None) -> bool:
        """Rejected or settled elsewhere: no key, and the row expires a week after the story."""
        return self._applied("settle", (
            settled_ttl(job, now_ms), state, code, reason, job.author_id, job.media_id, job.kind,
            _dt(job.posted_at), _dt(job.expires_at), job.story_id,
        ))

    def mark_announced(self, record: MediaRecord, now_ms: int) -> None:
        """The outcome event was acknowledged: a redelivered post must not repeat it."""
        ttl = settled_ttl(record.job, now_ms) if record.state == REJECTED and record.job else 0
        self._applied("announce", (ttl, record.story_id))

    def destroy(self, story_id: str, now_ms: int) -> None:
        """Forget the key for good; the row itself lingers a week to block redelivered posts."""
        self.session.execute(self.stmt["destroy"], (SETTLED_TTL_SECONDS, _dt(now_ms), story_id))
