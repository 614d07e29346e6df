"""Redrive: send the dead letters that are valid now back to their source topics, each exactly
once, with a mark per dead letter in the same Kafka transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer

from core.clients import KafkaConfig
from streams.admin import ensure_topics
from streams.dead_letters.reading import read_dead_letters, redriven_ids, select
from streams.dead_letters.records import DeadLetter, inspect
from streams.producer import CONTENT_TYPE, Headers, producer_config
from streams.topics import DEAD_LETTER_REDRIVEN, TOPICS, key_of, topic_name

log = logging.getLogger("streams.dead_letters")

_TRANSACTION_SIZE = 500


@dataclass(frozen=True)
class Skipped:
    """A dead letter a redrive left where it is, and why."""

    id: str
    why: str
    already_redriven: bool = False


@dataclass
class RedriveReport:
    """What a redrive did (or, with dry_run, would do)."""

    dry_run: bool = False
    sent: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def already_redriven(self) -> int:
        return sum(1 for s in self.skipped if s.already_redriven)

    @property
    def still_invalid(self) -> int:
        return sum(1 for s in self.skipped if not s.already_redriven)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "sent": self.sent,
            "skipped": [{"id": s.id, "why": s.why, "already_redriven": s.already_redriven}
                        for s in self.skipped],
        }


@dataclass(frozen=True)
class _Resend:
    letter: DeadLetter
    event_name: str
    record: dict[str, Any]
    topic: str
    key: bytes


def _input_topics(prefix: str) -> dict[str, frozenset[str]]:
    """Each input topic's full name and the events that belong on it."""
    return {topic_name(t, prefix): frozenset(t.events) for t in TOPICS}


def _plan(letter: DeadLetter, inputs: Mapping[str, frozenset[str]]) -> _Resend | Skipped:
    reading = inspect(letter.value)
    if not reading.valid or reading.event_name is None or reading.record is None:
        return Skipped(letter.id, f"still invalid: {reading.problem}")
    origin = letter.origin
    if origin.topic is None:
        return Skipped(letter.id, "no dlq-source-topic header: the original topic is unknown")
    allowed = inputs.get(origin.topic)
    if allowed is None:
        return Skipped(letter.id, f"{origin.topic} is not an input topic of this deployment")
    if reading.event_name not in allowed:
        return Skipped(letter.id, f"{reading.event_name} does not belong on {origin.topic}")
    key = letter.key if letter.key is not None else key_of(reading.event_name, reading.record)
    return _Resend(letter, reading.event_name, reading.record, origin.topic, key)


def _mark(resend: _Resend, now: datetime) -> bytes:
    origin = resend.letter.origin
    return orjson.dumps({
        "dead_letter": resend.letter.id,
        "topic": resend.topic,
        "source_partition": origin.partition,
        "source_offset": origin.offset,
        "event": resend.event_name,
        "event_id": str(resend.record.get("event_id")),
        "redriven_at": now.isoformat(),
    })


def transactional_id(prefix: str) -> str:
    """One per deployment, so a redrive fences any earlier one that is still open."""
    return f"{prefix}-dead-letter-redrive"


def redrive(
    kafka: KafkaConfig,
    prefix: str,
    reason: str | None = None,
    dry_run: bool = False,
    timeout: float = 30,
    on_sent: Callable[[str], None] | None = None,
) -> RedriveReport:
    """Send every dead letter that is valid now (and matches `reason`) back to its source topic
    with its key, exactly once; the rest stay and are reported with the reason."""
    report = RedriveReport(dry_run=dry_run)
    producer: Producer | None = None
    if not dry_run:
        ensure_topics(kafka, prefix, timeout)  # the marks topic, on a deployment from before it
        producer = Producer(producer_config(
            kafka, **{"transactional.id": transactional_id(prefix), "linger.ms": 20}))
        producer.init_transactions(timeout)  # fences an earlier run; its open work is aborted
    done = redriven_ids(kafka, prefix, timeout)
    inputs = _input_topics(prefix)
    resends: list[_Resend] = []
    for letter in select(read_dead_letters(kafka, prefix, timeout), reason):
        if letter.id in done:
            report.skipped.append(Skipped(letter.id, "already redriven", already_redriven=True))
            continue
        planned = _plan(letter, inputs)
        if isinstance(planned, Skipped):
            report.skipped.append(planned)
        else:
            resends.append(planned)
    if producer is None:
        report.sent = [r.letter.id for r in resends]
        return report
    marks = topic_name(DEAD_LETTER_REDRIVEN, prefix)
    for start in range(0, len(resends), _TRANSACTION_SIZE):
        chunk = resends[start:start + _TRANSACTION_SIZE]
        _send_in_transaction(producer, chunk, marks, timeout)
        for resend in chunk:
            report.sent.append(resend.letter.id)
            if on_sent is not None:
                on_sent(resend.letter.id)
    producer.flush(timeout)
    return report


def _resent_headers(resend: _Resend) -> Headers:
    """The event's own headers, where it came from, and the ones it was first sent with (its
    request id and traceparent among them)."""
    own: Headers = [("event-type", resend.event_name.encode()), ("content-type", CONTENT_TYPE),
                    ("dlq-redriven-from", resend.letter.id.encode())]
    replaced = {name for name, _ in own}
    return own + [(name, value) for name, value in resend.letter.headers
                  if name not in replaced and not name.startswith("dlq-")]


def _send_in_transaction(producer: Producer, chunk: Sequence[_Resend], marks: str,
                         timeout: float) -> None:
    """The events and their marks, all or nothing."""
    now = datetime.now(UTC)
    producer.begin_transaction()
    try:
        for resend in chunk:
            producer.produce(resend.topic, key=resend.key, value=resend.letter.value,
                             headers=_resent_headers(resend))
            producer.produce(marks, key=resend.letter.id.encode(), value=_mark(resend, now))
            producer.poll(0)
        producer.commit_transaction(timeout)
    except KafkaException as error:
        cause = error.args[0] if error.args else None
        if isinstance(cause, KafkaError) and cause.txn_requires_abort():
            producer.abort_transaction(timeout)
        log.error("redrive transaction of %d dead letters failed, nothing of it was sent: %s",
                  len(chunk), error)
        raise
