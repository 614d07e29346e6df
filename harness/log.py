"""Reading a deployment's topics back, whole, to compare what was sent with what was kept."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition

import schemas
from core.clients import kafka_config
from core.settings import Settings
from streams.topics import TOPICS, Topic, topic_for, topic_name

__all__ = ["read_log", "events_in_log", "produced"]

Event = tuple[str, dict[str, Any]]


def _consumer(settings: Settings) -> Consumer:
    """A reader that joins no group's progress: a fresh group id, nothing committed."""
    return Consumer({**kafka_config(settings),
                     "group.id": f"{settings.topic_prefix}-read-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False})


def _bounds(consumer: Consumer, names: dict[str, Topic]) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) watermarks of every partition that holds anything."""
    bounds = {}
    for name, topic in names.items():
        for partition in range(topic.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=30)
            if high > low:
                bounds[(name, partition)] = (low, high)
    return bounds


def _drain(consumer: Consumer, ends: dict[tuple[str, int], int], timeout: float) -> list[Event]:
    """Decoded events until every partition reached its end (or the time is up)."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while ends and time.monotonic() < deadline:
        for message in consumer.consume(5000, timeout=1.0):
            if message.error():
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is None or partition is None or offset is None:
                continue
            if offset + 1 >= ends.get((topic, partition), 0):
                ends.pop((topic, partition), None)
            events.append(schemas.decode(message.value() or b""))
    return events


def read_log(settings: Settings, topics: Sequence[Topic] = TOPICS, timeout: float = 120
             ) -> list[Event]:
    """Every event of these topics under the deployment's prefix, first offset to current end."""
    names = {topic_name(t, settings.topic_prefix): t for t in topics}
    consumer = _consumer(settings)
    try:
        bounds = _bounds(consumer, names)
        consumer.assign([TopicPartition(n, p, low) for (n, p), (low, _) in bounds.items()])
        return _drain(consumer, {place: high for place, (_, high) in bounds.items()}, timeout)
    finally:
        consumer.close()


def events_in_log(settings: Settings, event_name: str,
                  matches: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Every event of this kind in the deployment's log that `matches`, in log order."""
    events = read_log(settings, [topic_for(event_name)], timeout=30)
    return [record for name, record in events if name == event_name and matches(record)]


def produced(settings: Settings) -> int:
    """Events in the deployment's input topics so far (the sum of their end offsets)."""
    consumer = _consumer(settings)
    try:
        return sum(consumer.get_watermark_offsets(
            TopicPartition(topic_name(t, settings.topic_prefix), p), timeout=10)[1]
            for t in TOPICS for p in range(t.partitions))
    finally:
        consumer.close()
