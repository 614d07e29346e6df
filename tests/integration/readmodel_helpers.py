"""A private read-model version per test module, and dumps to compare states entry by entry."""

from __future__ import annotations

import uuid
from typing import Any

from core.clients import redis_client
from harness.readmodels import redis_dump
from harness.readmodels import viewer_rows as rows_of
from projections.projector import ProjectionPolicy, Projector
from projections.stores.cql_store import VIEWER_BUCKETS, CqlReadModels
from projections.stores.redis_store import RedisReadModels
from projections.versions import create_version

__all__ = ["PrivateReadModels", "TABLES", "redis_dump", "viewer_rows"]

TABLES = ("stories", "followers", "following", "close_friends", "story_viewers",
          "sticker_answers")


class PrivateReadModels:
    """A keyspace of its own; each `fresh()` call gets its own Redis prefix inside it."""

    def __init__(self, settings, session):
        self.settings = settings
        self.session = session
        base = f"t{uuid.uuid4().hex[:12]}"
        self.version = create_version(session, base, settings.cql_replication, 1)
        self.cql = CqlReadModels(session, self.version.keyspace)
        self.redis = redis_client(settings)

    def fresh(self, clock=None, fanout_threshold: int = 10_000) -> Projector:
        """A projector writing to a new Redis prefix (the CQL keyspace is shared)."""
        prefix = f"{self.version.base}:{uuid.uuid4().hex[:8]}:"
        models = RedisReadModels(self.redis, prefix, b"test-secret")
        policy = ProjectionPolicy(fanout_threshold=fanout_threshold)
        kwargs = {"clock": clock} if clock else {}
        return Projector(models, self.cql, policy, **kwargs)

    def redis_dump(self, projector: Projector) -> dict[str, Any]:
        return redis_dump(self.redis, projector.redis.prefix)

    def cql_dump(self, story_ids: set[str], users: set[str]) -> dict[str, list]:
        """The CQL rows of these stories and users."""
        s, ks = self.session, self.version.keyspace
        rows: dict[str, list] = {}
        rows["stories"] = sorted(
            (r.story_id, r.status) for sid in story_ids
            for r in s.execute(f"SELECT story_id, status FROM {ks}.stories WHERE story_id=%s", (sid,))
        )
        rows["viewers"] = sorted(
            (r.story_id, r.viewer_id, r.viewed_at, r.reaction)
            for sid in story_ids for b in range(VIEWER_BUCKETS)
            for r in s.execute(f"SELECT * FROM {ks}.story_viewers WHERE story_id=%s AND bucket=%s",
                               (sid, b))
        )
        rows["followers"] = sorted(
            (r.user_id, r.follower_id) for u in users
            for r in s.execute(f"SELECT * FROM {ks}.followers WHERE user_id=%s", (u,))
        )
        return rows

    def close(self) -> None:
        self.session.execute(f"DROP KEYSPACE IF EXISTS {self.version.keyspace}", timeout=120)


def viewer_rows(cql: CqlReadModels, world) -> list:
    """Every viewer entry of the world's stories."""
    return rows_of(cql, world.story_ids.values())
