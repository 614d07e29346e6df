"""What one gateway process holds: clients, the live read models, signers, limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import redis
import redis.asyncio
from anyio import to_thread
from cassandra.cluster import Session
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from core.clients import cql_session, kafka_config, redis_async_client, redis_client, s3_client
from core.logs import REQUEST_ID
from core.settings import Settings
from core.tracing import TRACE
from gateway.auth import TokenVerifier
from gateway.cursors import CursorSigner
from gateway.erasure import ErasedUsers
from gateway.idempotency import IdempotencyKeys
from gateway.keycache import MediaKeyCache, WrappedKeyOpener
from gateway.keys import gateway_prefix
from gateway.metrics import DEPENDENCY_ERRORS, EVENTS_EMITTED
from gateway.present import Presenter
from gateway.presign import Presigner
from gateway.problems import unavailable
from gateway.ratelimit import WriteLimiter
from gateway.reads import fetch_media_keys
from gateway.uploads import UploadGrants
from gateway.versions import ServingReadModels
from projections.queries import CelebrityHints
from projections.stores.story_keys import KeyEncryptionKeys, MediaKeyWrapper, media_keyspace
from streams.producer import Delivery, DeliveryError, EventProducer
from streams.tracing import trace_headers

__all__ = ["Command", "Gateway"]

log = logging.getLogger(__name__)

CQL_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Command:
    """An event the gateway decided to emit on behalf of the caller."""

    event_name: str
    record: dict[str, Any]


class Gateway:
    """Clients and helpers shared by every request of one process; `close()` releases them."""

    def __init__(self, settings: Settings, session: Session | None = None):
        self.settings = settings
        self.redis = redis_client(settings, socket_timeout=5, socket_connect_timeout=2)
        self.session = session or _gateway_session(settings)
        secret = settings.pseudonym_secret.get_secret_value().encode()
        self.models = ServingReadModels(settings.cql_keyspace, self.redis, self.session, secret)
        self.prefix = gateway_prefix(settings.cql_keyspace)  # outside read-model versions
        self.erased = ErasedUsers(secret, settings.jwt_max_lifetime_seconds)
        self.tokens = TokenVerifier(settings, refuse=self.erased.refuse_erased)
        self.cursors = CursorSigner(settings.jwt_secret.get_secret_value().encode())
        self.presigner = Presigner(
            settings.s3_public_endpoint or settings.s3_endpoint, settings.s3_region,
            settings.s3_bucket, settings.s3_access_key, settings.s3_secret_key.get_secret_value(),
            settings.s3_session_token.get_secret_value(),
        )
        self.presenter = Presenter(self.presigner, settings.media_url_seconds)
        self.media_keys = MediaKeyCache(partial(fetch_media_keys, self))
        self.celebrity_hints = CelebrityHints()
        self.story_keys = WrappedKeyOpener(MediaKeyWrapper(KeyEncryptionKeys(
            self.session, media_keyspace(settings))))
        self.limiter = WriteLimiter(self.redis, self.prefix, settings.gateway_rate_window_seconds, {
            "write": settings.gateway_write_limit,
            "engagement": settings.gateway_engagement_limit,
        })
        self.idempotency = IdempotencyKeys(
            self.redis, self.prefix, settings.gateway_idempotency_seconds,
            stale_seconds=settings.gateway_emit_timeout * 2 + 5,
        )
        self.uploads = UploadGrants(self.redis, self.prefix)

    @cached_property
    def producer(self) -> EventProducer:
        # librdkafka gives up at the same deadline, so a 503 means "not written".
        timeout_ms = int(self.settings.gateway_emit_timeout * 1000)
        return EventProducer.from_settings(self.settings, **{"message.timeout.ms": timeout_ms})

    @cached_property
    def s3(self) -> Any:
        return s3_client(self.settings)

    @cached_property
    def async_redis(self) -> redis.asyncio.Redis:
        return redis_async_client(self.settings, socket_timeout=5, socket_connect_timeout=2)

    @cached_property
    def kafka_admin(self) -> AdminClient:
        return AdminClient(kafka_config(self.settings))

    async def follow_erasures(self) -> None:
        """Keep the erasures of the serving read models in memory (gateway.erasure)."""
        await self.erased.follow(lambda: self.models.redis.erasure_index(), self._erased_since)

    async def _erased_since(self, index: str, since_ms: int) -> dict[str, int]:
        found: Any = await self.async_redis.zrangebyscore(
            index, since_ms, "+inf", withscores=True)
        return {hashed.decode(): int(at) for hashed, at in found}

    async def emit(self, command: Command) -> Delivery:
        """Send the event and wait (bounded) for the broker; 503 with Retry-After if it is away.

        The event carries the request's id and a span of its trace (streams.tracing)."""
        name, record = command.event_name, command.record
        bound = self.settings.gateway_emit_timeout + 1
        headers = trace_headers(REQUEST_ID.get(), TRACE.get())
        try:
            delivery = await _bounded(self.producer.send(name, record, headers), bound)
        except (DeliveryError, TimeoutError, KafkaException, BufferError) as error:
            failure = str(error) or type(error).__name__
        else:
            EVENTS_EMITTED.labels(name).inc()
            return delivery
        # Raised outside the handler, so the answer holds no traceback of the producer.
        DEPENDENCY_ERRORS.labels("kafka").inc()
        log.warning("%s not acknowledged: %s", name, failure)
        raise unavailable("The event log")

    async def follow_live_version(self) -> None:
        """Re-read the serving version pointer every few seconds, for as long as the app runs."""
        while True:
            await asyncio.sleep(self.settings.gateway_refresh_seconds)
            try:
                await to_thread.run_sync(self.models.refresh)
            except Exception as error:  # noqa: BLE001 - keep serving the version we have
                log.warning("could not re-read the live read-model version: %s", error)

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state ("ok" or why not), checked concurrently within seconds."""
        checks = {"kafka": self.check_kafka, "redis": self.check_redis, "cql": self.check_cql}
        states = await asyncio.gather(*(_probe(check) for check in checks.values()))
        return dict(zip(checks, states, strict=True))

    def check_kafka(self) -> None:
        """Raises when no broker answers a metadata request within two seconds."""
        self.kafka_admin.list_topics(timeout=2)

    def check_redis(self) -> None:
        self.redis.ping()

    def check_cql(self) -> None:
        self.session.execute("SELECT release_version FROM system.local", timeout=2)

    def close(self) -> None:
        """Deliver what is queued, then let go of every client (no reconnect attempts linger)."""
        if "producer" in self.__dict__:
            self.__dict__.pop("producer").close(timeout=self.settings.gateway_emit_timeout)
        self.__dict__.pop("kafka_admin", None)
        with contextlib.suppress(Exception):
            self.session.cluster.shutdown()
        self.redis.close()

    async def aclose(self) -> None:
        if "async_redis" in self.__dict__:
            await self.async_redis.aclose()
        await to_thread.run_sync(self.close)


async def _bounded(outcome: Future[Delivery], seconds: float) -> Delivery:
    """Wait for a delivery without cancelling it: the producer settles it later either way."""
    waiting = asyncio.wrap_future(outcome)
    waiting.add_done_callback(_consume_outcome)
    return await asyncio.wait_for(asyncio.shield(waiting), seconds)


def _consume_outcome(waiting: asyncio.Future[Delivery]) -> None:
    """A late failure nobody waits for any more is expected, not an unretrieved error."""
    if not waiting.cancelled():
        waiting.exception()


def _gateway_session(settings: Settings) -> Session:
    """A CQL session whose requests give up after a few seconds (a read must not hang)."""
    session = cql_session(settings)
    session.cluster.profile_manager.default.request_timeout = CQL_TIMEOUT_SECONDS
    return session


async def _probe(check: Callable[[], None], timeout: float = 3.0) -> str:
    """"ok", or a short reason; never raises."""
    try:
        await asyncio.wait_for(to_thread.run_sync(check, abandon_on_cancel=True), timeout)
    except TimeoutError:
        return "no answer within the timeout"
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        return f"unreachable: {type(error).__name__}"
    return "ok"
