"""The store backends the contract suite runs against, each behind the same small interface.

A backend hands out projectors over fresh, empty stores, or over the stores of an earlier
projector with another clock, and dumps the whole state of a projector's stores in the
common form (`ActiveStore.dump`, `RecordStore.dump`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from core.clients import redis_client, redis_clustered
from core.settings import Settings
from projections.catalogue import CQL_TABLES
from projections.projector import ProjectionPolicy, Projector
from projections.stores.cql_store import CqlReadModels
from projections.stores.memory import MemoryActiveStore, MemoryRecordStore
from projections.stores.redis_replicas import ReplicaWait
from projections.stores.redis_store import RedisReadModels
from projections.versions import create_version

SECRET = b"contract-secret"
Clock = Callable[[], float]


class Backend(Protocol):
    name: str

    def projector(self, clock: Clock = time.time, fanout_threshold: int = 10_000,
                  like: Projector | None = None) -> Projector: ...

    def close(self) -> None: ...


def dump(projector: Projector) -> dict[str, Any]:
    """The whole state of a projector's two stores."""
    return {"active": projector.redis.dump(), "record": projector.cql.dump()}


def _projector(active: Any, record: Any, clock: Clock, fanout_threshold: int) -> Projector:
    return Projector(active, record, ProjectionPolicy(fanout_threshold=fanout_threshold),
                     clock=clock)


class MemoryBackend:
    """Dicts: every projector gets stores of its own."""

    name = "memory"

    def projector(self, clock: Clock = time.time, fanout_threshold: int = 10_000,
                  like: Projector | None = None) -> Projector:
        if like is not None:
            return _projector(like.redis, like.cql, clock, fanout_threshold)
        return _projector(MemoryActiveStore(SECRET), MemoryRecordStore(), clock, fanout_threshold)

    def close(self) -> None:
        pass


class RedisCqlBackend:
    """The real Redis and CQL server: a fresh Redis prefix per projector, and a keyspace from
    a small pool, emptied before it is handed out (creating one takes seconds).

    With `cluster`, Redis is the stack's one-node Redis Cluster through the cluster-aware
    client: every slot on one node, yet a command whose keys span slots is refused, so the
    whole suite proves the key layout cluster-safe. When the settings name a cluster already
    (the local cluster), that cluster is used."""

    name = "redis+cql"
    POOL = 2

    def __init__(self, settings: Settings, session: Any, cluster: bool = False):
        if cluster and not redis_clustered(settings):
            from infra.stack.redis import cluster_url

            settings = settings.model_copy(update={"redis_url": cluster_url(settings)})
        if cluster:
            self.name = "redis-cluster+cql"
        self.session = session
        self.redis = redis_client(settings)
        self.wait = ReplicaWait.from_settings(settings)  # the local cluster: every flush waits
        base = f"c{uuid.uuid4().hex[:10]}"
        self.versions = [create_version(session, base, settings.cql_replication, n + 1)
                         for n in range(self.POOL)]
        self.handed_out = 0

    def new_test(self) -> None:
        self.handed_out = 0

    def projector(self, clock: Clock = time.time, fanout_threshold: int = 10_000,
                  like: Projector | None = None) -> Projector:
        if like is not None:
            return _projector(like.redis, like.cql, clock, fanout_threshold)
        version = self.versions[self.handed_out]  # more than POOL stores per test: IndexError
        self.handed_out += 1
        for table in CQL_TABLES:
            self.session.execute(f"TRUNCATE {version.keyspace}.{table}", timeout=60)
        prefix = f"{version.base}:{uuid.uuid4().hex[:8]}:"
        return _projector(RedisReadModels(self.redis, prefix, SECRET, self.wait),
                          CqlReadModels(self.session, version.keyspace), clock, fanout_threshold)

    def close(self) -> None:
        for version in self.versions:
            self.session.execute(f"DROP KEYSPACE IF EXISTS {version.keyspace}", timeout=120)
        for key in self.redis.scan_iter(match=f"{self.versions[0].base}:*", count=1000):
            self.redis.unlink(key)
