"""The connected clients of one worker or gateway process, built from its settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import redis
from cassandra.cluster import Session
from confluent_kafka import Producer

from core.clients import cql_session, kafka_config, redis_client
from core.settings import Settings
from projections.projector import ProjectionPolicy, Projector
from projections.stores.cql_batches import BatchShape
from projections.stores.cql_store import CqlReadModels
from projections.stores.redis_replicas import ReplicaWait
from projections.stores.redis_store import RedisReadModels
from projections.stores.story_keys import WrappedKeySource, media_keyspace
from projections.versions import ServingVersions, read_serving_versions, serving_version
from streams.producer import EventProducer, producer_config

__all__ = ["Runtime", "ServingProjector"]


class Runtime:
    """Lazily connected clients, shared by the agents of one process."""

    def __init__(self, settings: Settings, version: ServingVersions | None = None):
        self.settings = settings
        self._version = version

    @cached_property
    def session(self) -> Session:
        return cql_session(self.settings)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis_client(self.settings)

    @cached_property
    def version(self) -> ServingVersions:
        if self._version is not None:
            return self._version
        s = self.settings
        return serving_version(self.session, s.cql_keyspace, s.cql_replication)

    @cached_property
    def story_keys(self) -> WrappedKeySource:
        """Processed stories' media keys, wrapped for the read models."""
        return WrappedKeySource(self.session, media_keyspace(self.settings))

    @cached_property
    def raw_producer(self) -> Producer:
        return Producer(producer_config(kafka_config(self.settings)))

    @cached_property
    def events(self) -> EventProducer:
        return EventProducer.from_settings(self.settings)

    def redis_models(self) -> RedisReadModels:
        secret = self.settings.pseudonym_secret.get_secret_value().encode()
        return RedisReadModels(self.redis, self.version.redis_prefixes(), secret,
                               ReplicaWait.from_settings(self.settings))

    def cql_models(self) -> CqlReadModels:
        return CqlReadModels(self.session, self.version.keyspaces(),
                             BatchShape.from_settings(self.settings))

    def projector(
        self, on_expired: Callable[[float], None] | None = None, live_feed: bool = False
    ) -> Projector:
        policy = ProjectionPolicy(
            fanout_threshold=self.settings.fanout_threshold,
            insights_days=self.settings.insights_days,
        )
        return Projector(self.redis_models(), self.cql_models(), policy, on_expired=on_expired,
                         live_feed=live_feed, story_keys=self.story_keys)

    def serving_projector(self, refresh_seconds: float = 2.0, **options: Any) -> ServingProjector:
        """A projector that follows the serving version when a replay switches it."""
        return ServingProjector(self, refresh_seconds, options)

    def close(self) -> None:
        if "session" in self.__dict__:
            self.session.cluster.shutdown()
        if "events" in self.__dict__:
            self.events.close()
        if "raw_producer" in self.__dict__:
            self.raw_producer.flush(10)


class ServingProjector:
    """Hands out the projector of the serving version, re-reading the pointer every few seconds."""

    def __init__(self, runtime: Runtime, refresh_seconds: float, options: dict[str, Any]):
        self.runtime = runtime
        self.refresh_seconds = refresh_seconds
        self.options = options
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._projector = runtime.projector(**options)

    def current(self) -> Projector:
        with self._lock:
            if time.monotonic() - self._checked >= self.refresh_seconds:
                self._checked = time.monotonic()
                self._follow_switch()
            return self._projector

    def _follow_switch(self) -> None:
        rt = self.runtime
        live = read_serving_versions(rt.session, rt.settings.cql_keyspace)
        if live is not None and live != rt.version:
            rt.__dict__["version"] = live
            self._projector = rt.projector(**self.options)
