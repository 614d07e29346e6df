"""The schema topic: every event schema version a producer writes, so that a reader of an
older release can read events of a newer one during a rolling upgrade instead of setting them
aside.

Each producer publishes the latest version of every event when it starts, in the background
(acknowledged within milliseconds, long before a client's first command reaches it). A reader
meeting an unknown fingerprint reads the topic once the event is a few seconds old (at most once
per second), learns the version if it is there (`Catalogue.learn`) and decodes with its own
latest schema; a fingerprint nobody published is still a bad event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

import schemas
from core.clients import KafkaConfig, kafka_config
from core.settings import Settings
from schemas import framing
from streams.topics import SCHEMAS, topic_name

__all__ = ["publish_schemas", "SchemaTopic"]

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 10.0
MIN_READ_INTERVAL_SECONDS = 1.0
CLOCK_SKEW_MS = 2_000  # between the producer that stamped an event and this host


def publish_schemas(kafka: KafkaConfig, prefix: str) -> None:
    """The latest version of every event, keyed by fingerprint, acknowledged before returning.
    A producer of its own, so that a missing topic costs seconds, not the events' delivery
    timeout."""
    topic = topic_name(SCHEMAS, prefix)
    producer = Producer({**kafka, "acks": "all", "linger.ms": 0,
                         "message.timeout.ms": int(PUBLISH_TIMEOUT_SECONDS * 1000)})
    failed: list[str] = []
    for event_name in schemas.EVENT_NAMES:
        version = schemas.CATALOGUE.version_of(event_name)
        producer.produce(topic, key=version.fingerprint.hex(), value=orjson.dumps(version.schema),
                         on_delivery=lambda error, _m: failed.append(str(error)) if error else None)
    if producer.flush(PUBLISH_TIMEOUT_SECONDS + 1) or failed:
        log.warning("event schemas not published on %s (readers of older releases will set this "
                    "release's new event versions aside): %s", topic, failed[:1] or "timeout")


class SchemaTopic:
    """Reads the schema topic when an event names a schema this build does not know."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self._settings = settings  # connected only when an unknown schema is met
        self._topic = topic_name(SCHEMAS, settings.topic_prefix)
        self._clock = clock
        self._read_at = 0.0
        self._published: dict[str, bytes] = {}

    def learn_unknown(self, value: bytes | None, written_at_ms: int) -> bool:
        """Whether the event's unknown schema was found and learned (then decode it again).

        Producers publish their schemas as they start, so the topic read a little after the
        event was written (`written_at_ms`, its timestamp) has its schema, if any producer does;
        reads happen at most once per MIN_READ_INTERVAL_SECONDS (a later event waits for it).
        """
        if not value or len(value) < framing.HEADER_SIZE or value[:2] != framing.MAGIC:
            return False
        fingerprint = bytes(value[2:framing.HEADER_SIZE])
        if schemas.CATALOGUE.knows(fingerprint):
            return True
        settled = (written_at_ms + CLOCK_SKEW_MS) / 1000  # its producer published by then
        if self._read_at < settled:
            next_read = max(self._read_at + MIN_READ_INTERVAL_SECONDS, settled)
            time.sleep(min(CLOCK_SKEW_MS / 1000, max(0.0, next_read - self._clock())))
            self._read_at = self._clock()
            self._published = self._read()
        published = self._published.get(fingerprint.hex())
        if published is None:
            return False
        try:
            learned = schemas.CATALOGUE.learn(orjson.loads(published))
        except Exception as error:  # noqa: BLE001 - a schema that does not parse is not found
            log.warning("schema %s on %s not usable: %s", fingerprint.hex(), self._topic, error)
            return False
        log.info("learned %s written by a newer release (fingerprint %s)", learned.event_name,
                 fingerprint.hex())
        return True

    def _read(self) -> dict[str, bytes]:
        """Every published schema by fingerprint (hex), the topic read to its end."""
        consumer = Consumer({**kafka_config(self._settings), "group.id": f"{self._topic}-reader",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(self._topic, 0), timeout=10)
            consumer.assign([TopicPartition(self._topic, 0, low)])
            found: dict[str, bytes] = {}
            while high > low:
                message = consumer.poll(5.0)
                if message is None or message.error():  # the end (compaction leaves gaps)
                    break
                key, value = message.key(), message.value()
                if key and value:
                    found[key.decode()] = value
                if (message.offset() or 0) >= high - 1:
                    break
            return found
        except Exception as error:  # noqa: BLE001 - an unreadable topic means "not found"
            log.warning("schema topic %s not read: %s", self._topic, error)
            return {}
        finally:
            consumer.close()
