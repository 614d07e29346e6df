"""The producer: validated events, acknowledged by every in-sync replica, never dropped silently."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer

import schemas
from core.clients import KafkaConfig, kafka_config
from core.settings import Settings
from streams.schema_topic import publish_schemas
from streams.topics import key_of, topic_for, topic_name

__all__ = [
    "Delivery",
    "DeliveryError",
    "BulkReport",
    "EventProducer",
    "ExtraHeaders",
    "Headers",
    "producer_config",
    "dead_letter_headers",
]

log = logging.getLogger(__name__)

CONTENT_TYPE = b"application/vnd.stories.event+avro-single-object"

Headers = list[tuple[str, str | bytes | None]]
"""Kafka message headers, in the form `Producer.produce` takes them."""
ExtraHeaders = Sequence[tuple[str, str | bytes | None]]
"""Headers a caller adds to an event's own, e.g. `streams.tracing.trace_headers(...)`."""


def producer_config(kafka: KafkaConfig, **overrides: Any) -> dict[str, Any]:
    """Idempotent, acks=all, batched and compressed, on the connection `kafka`; overrides win."""
    config: dict[str, Any] = {
        **kafka,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        "compression.type": "lz4",
        "message.timeout.ms": 30_000,
        "queue.buffering.max.messages": 500_000,
        # After a broker restart the cached leaders can be stale; refresh them often instead of
        # the default five minutes, or sends wait that long for a leader.
        "topic.metadata.refresh.interval.ms": 5_000,
    }
    config.update(overrides)
    return config


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an event."""

    event_name: str
    event_id: str
    topic: str
    partition: int
    offset: int


class DeliveryError(Exception):
    """The broker did not acknowledge an event; the caller must know."""

    def __init__(self, event_name: str, event_id: str, reason: str, retriable: bool = False):
        super().__init__(f"{event_name} {event_id} was not delivered: {reason}")
        self.event_name = event_name
        self.event_id = event_id
        self.reason = reason
        self.retriable = retriable


@dataclass
class BulkReport:
    """What a bulk emission did, item by item for the failures."""

    delivered: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


class EventProducer:
    """Encodes, validates and sends events; a background thread serves delivery reports."""

    def __init__(self, kafka: KafkaConfig, topic_prefix: str = "stories", **overrides: Any):
        config = producer_config(kafka, error_cb=_log_client_error, **overrides)
        self._producer = Producer(config)
        self._prefix = topic_prefix
        # In the background: a broker that is away must not hold up the first command.
        threading.Thread(target=publish_schemas, args=(kafka, topic_prefix), daemon=True,
                         name="schemas").start()
        self._closing = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, daemon=True, name="producer")
        self._poller.start()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> EventProducer:
        return cls(kafka_config(settings), settings.topic_prefix, **overrides)

    def _serve_reports(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.05)

    def send(self, event_name: str, record: Mapping[str, Any], headers: ExtraHeaders = ()
             ) -> Future[Delivery]:
        """Queue one event; the future resolves on acknowledgement or fails with DeliveryError.

        `headers` go with it after `event-type` and `content-type` (the request it was sent
        for: `streams.tracing.trace_headers`)."""
        value = schemas.encode(event_name, record)
        event_id = str(record["event_id"])
        outcome: Future[Delivery] = Future()
        self._produce(
            topic=topic_name(topic_for(event_name), self._prefix),
            key=key_of(event_name, record),
            value=value,
            headers=[("event-type", event_name.encode()), ("content-type", CONTENT_TYPE),
                     *headers],
            on_delivery=_resolver(outcome, event_name, event_id),
        )
        return outcome

    def _produce(self, **message: Any) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self._producer.produce(**message)
                return
            except BufferError:
                # The local queue is full: wait for deliveries to drain it.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def emit(self, event_name: str, record: Mapping[str, Any], timeout: float = 30,
             headers: ExtraHeaders = ()) -> Delivery:
        """Send one event and wait for the broker's acknowledgement."""
        return self.send(event_name, record, headers).result(timeout)

    async def emit_async(self, event_name: str, record: Mapping[str, Any],
                         headers: ExtraHeaders = ()) -> Delivery:
        """Send one event and await the acknowledgement without blocking the event loop."""
        return await asyncio.wrap_future(self.send(event_name, record, headers))

    def emit_many(self, events: Iterable[tuple[int, str, Mapping[str, Any]]],
                  headers: ExtraHeaders = ()) -> BulkReport:
        """Send (position, event, record) items, each with `headers`; failures are reported by
        position."""
        report = BulkReport()
        pending: list[tuple[int, Future[Delivery]]] = []
        for position, event_name, record in events:
            try:
                pending.append((position, self.send(event_name, record, headers)))
            except (schemas.EventError, ValueError, KeyError) as error:
                report.failures.append((position, str(error)))
        self.flush()
        for position, outcome in pending:
            try:
                outcome.result(timeout=60)
                report.delivered += 1
            except Exception as error:  # noqa: BLE001 - every failure is reported, none dropped
                report.failures.append((position, str(error)))
        report.failures.sort()
        return report

    def flush(self, timeout: float = 60) -> int:
        """Wait for queued events; returns how many are still undelivered."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 60) -> None:
        remaining = self.flush(timeout)
        self._closing.set()
        self._poller.join()
        if remaining:
            log.error("%d events were still undelivered at close", remaining)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _resolver(
    outcome: Future[Delivery], event_name: str, event_id: str
) -> Callable[[KafkaError | None, Message], None]:
    """A delivery callback that settles the event's future."""

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if outcome.done():  # the caller gave up waiting (cancelled); the report is not needed
            return
        if error is not None:
            retriable = error.retriable() if hasattr(error, "retriable") else False
            outcome.set_exception(DeliveryError(event_name, event_id, error.str(), retriable))
            return
        outcome.set_result(_delivery(event_name, event_id, message))

    return on_delivery


def _delivery(event_name: str, event_id: str, message: Message) -> Delivery:
    """Where a delivered message landed: a report without an error carries all three."""
    topic = cast(str, message.topic())
    partition = cast(int, message.partition())
    offset = cast(int, message.offset())
    return Delivery(event_name, event_id, topic, partition, offset)


def _log_client_error(error: KafkaError) -> None:
    """Broker-wide errors (a broker away, a fenced producer) go to the log, loudly if fatal."""
    if error.fatal():
        log.critical("producer failed for good: %s", error.str())
    else:
        log.warning("producer: %s", error.str())


def dead_letter_headers(reason: str, topic: str, partition: int, offset: int,
                        carried: Iterable[tuple[str, Any]] = ()) -> Headers:
    """Why and from where a message was set aside, readable without decoding it, after the
    headers it came with (`carried`: its request id and traceparent among them); `dlq-*`
    headers of its own are replaced by these."""
    return [
        *((name, value) for name, value in carried if not name.startswith("dlq-")),
        ("dlq-reason", reason.encode()[:4000]),
        ("dlq-source-topic", topic.encode()),
        ("dlq-source-partition", str(partition).encode()),
        ("dlq-source-offset", str(offset).encode()),
    ]
