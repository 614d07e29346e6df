"""Reading the dead-letter topic and the marks of redriven ones, from the first offset to the end
as of the start, and choosing dead letters by reason and time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from core.clients import KafkaConfig
from streams.admin import partition_count
from streams.dead_letters.records import DeadLetter, _text, matches_reason, parse_id
from streams.topics import DEAD_LETTER, DEAD_LETTER_REDRIVEN, topic_name


def _reader(kafka: KafkaConfig, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        **kafka,
        "group.id": "stories-dead-letters",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }
    config.update(overrides)
    return Consumer(config)


def _read_all(consumer: Consumer, name: str, timeout: float) -> Iterator[Message]:
    """Every message of a topic from its first offset up to its end as of the start."""
    first: dict[int, int] = {}
    wanted: dict[int, int] = {}
    for partition in range(_partitions(consumer, name, timeout)):
        low, high = _watermarks(consumer, name, partition, timeout)
        if high > low:
            first[partition], wanted[partition] = low, high
    if not wanted:
        return
    consumer.assign([TopicPartition(name, p, first[p]) for p in wanted])
    pending = set(wanted)
    deadline = _Deadline(timeout)
    while pending:
        message = consumer.poll(min(1.0, deadline.left()))
        if message is None:
            deadline.check(f"reading {name}: partitions {sorted(pending)} did not reach their end")
            continue
        error = message.error()
        partition = cast(int, message.partition())
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                pending.discard(partition)
                continue
            raise KafkaException(error)
        deadline.extend()
        yield message
        if cast(int, message.offset()) + 1 >= wanted.get(partition, 0):
            pending.discard(partition)


def _partitions(consumer: Consumer, name: str, timeout: float) -> int:
    """The topic's partition count; 0 when it does not exist (not created yet)."""
    try:
        return partition_count(consumer, name, timeout)
    except KafkaException as missing:
        cause = missing.args[0] if missing.args else None
        if isinstance(cause, KafkaError) and cause.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            return 0
        raise


_LEADER_MOVING = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
})


def _watermarks(consumer: Consumer, name: str, partition: int, timeout: float) -> tuple[int, int]:
    """The first and next offsets of a partition, retried while its leader is being elected
    (a topic just created) or moves."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition),
                                                       timeout=timeout)
            return low, high
        except KafkaException as error:
            cause = error.args[0] if error.args else None
            transient = isinstance(cause, KafkaError) and (
                cause.retriable() or cause.code() in _LEADER_MOVING)
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class _Deadline:
    """Gives up when nothing arrives for `seconds`."""

    def __init__(self, seconds: float) -> None:
        self._clock = time.monotonic
        self._seconds = seconds
        self._until = self._clock() + seconds

    def left(self) -> float:
        return max(0.05, self._until - self._clock())

    def extend(self) -> None:
        self._until = self._clock() + self._seconds

    def check(self, what: str) -> None:
        if self._clock() > self._until:
            raise TimeoutError(what)


def read_dead_letters(kafka: KafkaConfig, prefix: str, timeout: float = 30) -> list[DeadLetter]:
    """Every dead letter on the deployment's dead-letter topic, from the first offset."""
    consumer = _reader(kafka)
    try:
        name = topic_name(DEAD_LETTER, prefix)
        return [DeadLetter.from_message(m) for m in _read_all(consumer, name, timeout)]
    finally:
        consumer.close()


def redriven_ids(kafka: KafkaConfig, prefix: str, timeout: float = 30) -> set[str]:
    """The ids of dead letters already sent back (committed marks only)."""
    consumer = _reader(kafka, **{"isolation.level": "read_committed"})
    try:
        name = topic_name(DEAD_LETTER_REDRIVEN, prefix)
        return {_text(m.key()) for m in _read_all(consumer, name, timeout)
                if m.key() is not None and m.value() is not None}
    finally:
        consumer.close()


def select(letters: Iterable[DeadLetter], reason: str | None = None,
           since: datetime | None = None) -> list[DeadLetter]:
    """The dead letters whose reason matches and that were set aside at or after `since`."""
    return [
        letter for letter in letters
        if matches_reason(letter.reason, reason)
        and (since is None or (letter.timestamp is not None and letter.timestamp >= since))
    ]


def find_dead_letter(kafka: KafkaConfig, prefix: str, letter_id: str,
                     timeout: float = 20) -> DeadLetter | None:
    """The dead letter with that id, or None when the topic has no message there."""
    partition, offset = parse_id(letter_id)
    name = topic_name(DEAD_LETTER, prefix)
    consumer = _reader(kafka)
    try:
        if partition >= _partitions(consumer, name, timeout):
            return None
        low, high = _watermarks(consumer, name, partition, timeout)
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(name, partition, offset)])
        deadline = _Deadline(timeout)
        while True:
            message = consumer.poll(min(1.0, deadline.left()))
            if message is None:
                deadline.check(f"reading {name}[{partition}]@{offset}")
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return None
                raise KafkaException(error)
            if message.offset() == offset:
                return DeadLetter.from_message(message)
            if cast(int, message.offset()) > offset:  # compacted away or a transaction marker
                return None
    finally:
        consumer.close()
