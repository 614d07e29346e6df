"""Creates the topic catalogue on the broker, idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, TopicMetadata
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from streams.topics import DEAD_LETTER, TOPICS, Topic, topic_name

__all__ = ["ensure_topics", "all_topics", "group_lag"]

log = logging.getLogger(__name__)


def all_topics() -> tuple[Topic, ...]:
    """Every topic the project owns, the dead-letter topic included."""
    return (*TOPICS, DEAD_LETTER)


def ensure_topics(bootstrap: str, prefix: str, timeout: float = 30) -> list[str]:
    """Create the missing topics; returns the names created. Existing ones are left alone."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in all_topics() if topic_name(t, prefix) not in existing]
    if not missing:
        return []
    requests = [
        NewTopic(topic_name(t, prefix), t.partitions, 1, config=t.config()) for t in missing
    ]
    for name, outcome in admin.create_topics(requests, operation_timeout=timeout).items():
        try:
            outcome.result(timeout)
        except Exception as error:  # an init racing another one: the topic now exists
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
        log.info("created topic %s", name)
    created = [r.topic for r in requests]
    _wait_for_leaders(admin, created, timeout)
    return created


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
def group_lag(bootstrap: str, group: str, topics: Sequence[Topic],
              prefix: str = "") -> int:
    """Events the consumer group has not committed yet, summed over every partition of the topics.

    Right after a group forms, the broker may answer NOT_COORDINATOR or
    COORDINATOR_LOAD_IN_PROGRESS; those are retried for up to a minute.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    try:
        partitions = [TopicPartition(topic_name(t, prefix), p)
                      for t in topics for p in range(t.partitions)]
        total = 0
        for tp in consumer.committed(partitions, timeout=10):
            high = consumer.get_watermark_offsets(tp, timeout=10)[1]
            total += high - max(tp.offset, 0)
        return total
    finally:
        consumer.close()
