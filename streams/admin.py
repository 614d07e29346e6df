"""Creates the topic catalogue on the broker, idempotently, and reads partitions as the broker has them."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, TopicMetadata
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from core.clients import KafkaConfig
from core.settings import get_settings
from streams.topics import DEAD_LETTER, DEAD_LETTER_REDRIVEN, SCHEMAS, TOPICS, Topic, topic_name

__all__ = [
    "PartitionMismatch",
    "ensure_topics",
    "all_topics",
    "new_topics",
    "partition_mismatches",
    "partition_count",
    "group_lag",
]

log = logging.getLogger(__name__)


def all_topics() -> tuple[Topic, ...]:
    """Every topic the project owns, the dead-letter topics included."""
    return (*TOPICS, DEAD_LETTER, DEAD_LETTER_REDRIVEN, SCHEMAS)


@dataclass(frozen=True)
class PartitionMismatch:
    """A topic whose partition count on the broker is not the catalogue's."""

    topic: str
    expected: int
    actual: int

    def __str__(self) -> str:
        return (f"topic {self.topic} has {self.actual} partitions on the broker, the catalogue "
                f"says {self.expected}; the broker's count is used (keys map to other "
                "partitions than the catalogue's count would give)")


def partition_mismatches(
    topics: Sequence[Topic], prefix: str, actual: Mapping[str, int]
) -> list[PartitionMismatch]:
    """Topics present on the broker (`actual`: name to partition count) with another count."""
    found = []
    for topic in topics:
        name = topic_name(topic, prefix)
        if name in actual and actual[name] != topic.partitions:
            found.append(PartitionMismatch(name, topic.partitions, actual[name]))
    return found


def new_topics(
    topics: Sequence[Topic], prefix: str, replication_factor: int, min_insync_replicas: int
) -> list[NewTopic]:
    """Creation requests: the catalogue's partitions, the deployment's replication."""
    return [
        NewTopic(topic_name(t, prefix), t.partitions, replication_factor,
                 config=t.config(min_insync_replicas))
        for t in topics
    ]


def _already_exists(error: BaseException) -> bool:
    cause = error.args[0] if isinstance(error, KafkaException) and error.args else None
    if isinstance(cause, KafkaError):
        return cause.code() == KafkaError.TOPIC_ALREADY_EXISTS
    return "TOPIC_ALREADY_EXISTS" in str(error)


def ensure_topics(
    kafka: KafkaConfig,
    prefix: str,
    timeout: float = 30,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
) -> list[str]:
    """Create the missing topics; returns the names created. Existing ones are left alone.

    Replication defaults to the settings (`STORIES_KAFKA_REPLICATION_FACTOR`,
    `STORIES_KAFKA_MIN_INSYNC_REPLICAS`). A topic that exists with another partition count than
    the catalogue's is logged as a warning; everything that iterates partitions reads the
    broker's count (`partition_count`).
    """
    settings = get_settings()
    replicas = settings.kafka_replication_factor if replication_factor is None else replication_factor
    insync = settings.kafka_min_insync_replicas if min_insync_replicas is None else min_insync_replicas
    admin = AdminClient(dict(kafka))
    existing = admin.list_topics(timeout=timeout).topics
    missing = [t for t in all_topics() if topic_name(t, prefix) not in existing]
    created: list[str] = []
    if missing:
        requests = new_topics(missing, prefix, replicas, insync)
        for name, outcome in admin.create_topics(requests, operation_timeout=timeout).items():
            try:
                outcome.result(timeout)
                log.info("created topic %s", name)
                created.append(name)
            except KafkaException as error:  # an init racing another one: the topic now exists
                if not _already_exists(error):
                    raise
                log.info("topic %s was created meanwhile", name)
        _wait_for_leaders(admin, [r.topic for r in requests], timeout)
        existing = admin.list_topics(timeout=timeout).topics
    counts = {name: len(meta.partitions) for name, meta in existing.items()}
    for mismatch in partition_mismatches(all_topics(), prefix, counts):
        log.warning("%s", mismatch)
    return created


def partition_count(consumer: Consumer, name: str, timeout: float = 10) -> int:
    """How many partitions the topic has on the broker (not necessarily the catalogue's).

    Asked through a consumer, which never makes the broker auto-create the topic it names.
    """
    metadata = consumer.list_topics(name, timeout=timeout).topics.get(name)
    if metadata is None:
        raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"no topic {name}"))
    if metadata.error is not None:
        raise KafkaException(metadata.error)
    return len(metadata.partitions)


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """New topics are usable once every partition has a leader."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(_has_leaders(topics.get(name)) for name in names):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics without partition leaders after {timeout} s: {names}")


def _has_leaders(metadata: TopicMetadata | None) -> bool:
    return metadata is not None and bool(metadata.partitions) and all(
        p.leader >= 0 for p in metadata.partitions.values()
    )


_TRANSIENT_CODES = frozenset({
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
})


def _retriable(error: BaseException) -> bool:
    """A coordinator moving or still loading is transient."""
    if not isinstance(error, KafkaException):
        return False
    cause = error.args[0]
    return cause.retriable() or cause.code() in _TRANSIENT_CODES


@retry(retry=retry_if_exception(_retriable), stop=stop_after_delay(60),
       wait=wait_exponential(multiplier=0.2, max=5), reraise=True)
def group_lag(kafka: KafkaConfig, group: str, topics: Sequence[Topic],
              prefix: str = "") -> int:
    """Events the consumer group has not committed yet, summed over every partition of the topics
    (as many as the broker has).

    Right after a group forms, the broker may answer NOT_COORDINATOR or
    COORDINATOR_LOAD_IN_PROGRESS; those are retried for up to a minute.
    """
    consumer = Consumer({**kafka, "group.id": group, "enable.auto.commit": False})
    try:
        names = [topic_name(t, prefix) for t in topics]
        partitions = [TopicPartition(name, p)
                      for name in names for p in range(partition_count(consumer, name))]
        total = 0
        for tp in consumer.committed(partitions, timeout=10):
            high = consumer.get_watermark_offsets(tp, timeout=10)[1]
            total += high - max(tp.offset, 0)
        return total
    finally:
        consumer.close()
