"""The read models of the serving versions, followed so that a replay's switch reaches the gateway."""

from __future__ import annotations

import logging
import threading

import redis
from cassandra.cluster import Session

from projections.stores.cql_store import CqlReadModels
from projections.stores.redis_store import RedisReadModels
from projections.versions import ServingVersions, read_serving_versions

__all__ = ["ServingReadModels"]

log = logging.getLogger(__name__)


class ServingReadModels:
    """Hands out the Redis and CQL read models of whichever versions are live right now."""

    def __init__(self, base: str, client: redis.Redis, session: Session, secret: bytes):
        self._base = base
        self._client = client
        self._session = session
        self._secret = secret
        self._lock = threading.Lock()
        self.versions = read_serving_versions(session, base) or ServingVersions.single(base, 1)
        self._redis = self._redis_models(self.versions)
        self._cql: tuple[ServingVersions, CqlReadModels] | None = None

    def _redis_models(self, versions: ServingVersions) -> RedisReadModels:
        return RedisReadModels(self._client, versions.redis_prefixes(), self._secret)

    @property
    def redis(self) -> RedisReadModels:
        return self._redis

    @property
    def cql(self) -> CqlReadModels:
        """Prepared on first use, so a gateway can start before the worker made the keyspace."""
        versions, built = self.versions, self._cql
        if built is None or built[0] != versions:
            with self._lock:
                if self._cql is None or self._cql[0] != versions:
                    self._cql = (versions, CqlReadModels(self._session, versions.keyspaces()))
                built = self._cql
        return built[1]

    def refresh(self) -> bool:
        """Follow the live pointers; True when some projection moved to another version."""
        live = read_serving_versions(self._session, self._base)
        if live is None or live == self.versions:
            return False
        log.info("read models switched to versions %s", dict(live.numbers))
        self._redis = self._redis_models(live)
        self.versions = live
        return True
