"""Dead letters for operators: read them back, show them without their content, send back the
ones that are valid now, each exactly once.

A dead letter's id is `<partition>:<offset>` on the dead-letter topic. Its origin and reason are
in the headers `streams.producer.dead_letter_headers` writes. A redrive re-sends a dead letter
that decodes and passes validation today to its source topic, with its key, and in the same
Kafka transaction writes a mark keyed by its id to the compacted `<prefix>.dead-letter-redriven`
topic; every run reads the marks first and skips what they name. Runs share one transactional
id per deployment, so a run fences any earlier one still open: a fenced run's transaction is
aborted and sends nothing, and the marks a run reads are those of every run before it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

import schemas
from streams.admin import ensure_topics, partition_count
from streams.producer import CONTENT_TYPE, producer_config
from streams.topics import DEAD_LETTER, DEAD_LETTER_REDRIVEN, TOPICS, key_of, topic_name

__all__ = [
    "CONTENT_FIELDS",
    "REDACTED",
    "REASON_CLASSES",
    "DeadLetter",
    "Origin",
    "Reading",
    "RedriveReport",
    "Skipped",
    "details",
    "find_dead_letter",
    "inspect",
    "matches_reason",
    "parse_headers",
    "parse_id",
    "parse_since",
    "read_dead_letters",
    "reason_class",
    "redact",
    "redrive",
    "redriven_ids",
    "select",
    "summary",
]

log = logging.getLogger(__name__)

CONTENT_FIELDS: frozenset[str] = frozenset({"text", "caption", "prompt", "options", "title"})
"""Fields that hold what people wrote (story text, captions, sticker prompts and options, free-text
answers, highlight titles), at any depth of an event; identifiers, times and counts are not."""

REDACTED = "<redacted>"
HEX_PREFIX_BYTES = 16
"""Bytes of an undecodable value shown in hex: the framing header and a few body bytes."""

REASON_CLASSES: tuple[str, ...] = ("decode", "invalid", "projection", "other")
_CLASS_ALIASES = {
    "decodeerror": "decode",
    "eventvalidationerror": "invalid",
    "validation": "invalid",
    "projectionrejected": "invalid",
    "rejected": "invalid",
}
_DECODE_STARTS = ("too short for an event", "bad magic", "unknown schema fingerprint",
                  "truncated ", "corrupt ", "expected bytes")
_FIELD_REASON = re.compile(r"^[A-Za-z_][\w.\[\]]*: ")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_TRANSACTION_SIZE = 500


# -- headers, classes, times -------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Why and from where a message was set aside, as its headers say."""

    reason: str
    topic: str | None
    partition: int | None
    offset: int | None

    def __str__(self) -> str:
        if self.topic is None:
            return "?"
        partition = "?" if self.partition is None else self.partition
        offset = "?" if self.offset is None else self.offset
        return f"{self.topic}[{partition}]@{offset}"


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_headers(headers: Iterable[tuple[str, str | bytes | None]] | None) -> Origin:
    """The origin from `dlq-*` headers; missing or unreadable ones become None (reason: "")."""
    found = {name: _text(value) for name, value in headers or ()}
    topic = found.get("dlq-source-topic") or None
    return Origin(
        reason=found.get("dlq-reason", ""),
        topic=topic,
        partition=_int_or_none(found.get("dlq-source-partition", "")),
        offset=_int_or_none(found.get("dlq-source-offset", "")),
    )


def reason_class(reason: str) -> str:
    """The kind of failure a reason describes: `decode` (bytes that are no readable event),
    `invalid` (a field broke its schema or a rule, the reason starts with its path),
    `projection` (the fold itself failed) or `other`."""
    if reason.startswith("projection failed"):
        return "projection"
    if reason.startswith(_DECODE_STARTS) or "cannot be read with the latest schema" in reason:
        return "decode"
    if _FIELD_REASON.match(reason):
        return "invalid"
    return "other"


def matches_reason(reason: str, wanted: str | None) -> bool:
    """No filter, the reason's class (or an error class naming it), or a substring of it;
    case-insensitive."""
    if not wanted:
        return True
    term = wanted.strip().lower()
    if _CLASS_ALIASES.get(term, term) == reason_class(reason):
        return True
    return term in reason.lower()


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An aware time from ISO-8601 (a time without zone is UTC) or a span back from now:
    `90s`, `15m`, `2h`, `7d`, `1w`."""
    relative = _RELATIVE.match(text)
    if relative is not None:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 time or a span like 2h: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- what a dead letter holds ------------------------------------------------------------------

@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter topic."""

    partition: int
    offset: int
    timestamp: datetime | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def origin(self) -> Origin:
        return parse_headers(self.headers)

    @property
    def reason(self) -> str:
        return self.origin.reason

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        kind, millis = message.timestamp()
        when = None if kind == 0 or millis is None or millis < 0 else (
            datetime.fromtimestamp(millis / 1000, UTC))
        raw = message.headers() or []
        raw_headers = list(raw.items()) if isinstance(raw, dict) else raw
        return cls(
            partition=cast(int, message.partition()),
            offset=cast(int, message.offset()),
            timestamp=when,
            key=message.key(),
            value=message.value(),
            headers=tuple((name, _as_bytes(value)) for name, value in raw_headers),
        )


def _as_bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


@dataclass(frozen=True)
class Reading:
    """What a dead letter's value is today: an event (valid or not) or unreadable bytes."""

    event_name: str | None
    record: dict[str, Any] | None
    problem: str | None

    @property
    def valid(self) -> bool:
        return self.problem is None


def inspect(value: bytes | None) -> Reading:
    """Decode and validate with today's catalogue; an event that decodes but breaks a rule
    keeps its name and fields (as written), with the problem."""
    if value is None:
        return Reading(None, None, "the message has no value")
    try:
        name, record = schemas.decode(value)
        return Reading(name, record, None)
    except schemas.EventError as error:
        problem = str(error)
    try:
        writer, record = schemas.CATALOGUE.decode_as_written(value)
    except schemas.EventError:
        return Reading(None, None, problem)
    return Reading(writer.event_name, record, problem)


def redact(value: Any) -> Any:
    """A copy with every content field (CONTENT_FIELDS, at any depth) replaced by `<redacted>`
    when it holds something; identifiers, times, enums and numbers stay."""
    if isinstance(value, Mapping):
        return {
            key: (REDACTED if key in CONTENT_FIELDS and item not in (None, [], "") else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode()
    except UnicodeDecodeError:
        return "0x" + key.hex()


def summary(letter: DeadLetter, redriven: bool = False,
            reading: Reading | None = None) -> dict[str, Any]:
    """One dead letter in a line's worth of fields (no event content)."""
    origin = letter.origin
    reading = reading or inspect(letter.value)
    return {
        "id": letter.id,
        "time": letter.timestamp.isoformat() if letter.timestamp else None,
        "source": {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset},
        "event": reading.event_name,
        "reason": origin.reason,
        "class": reason_class(origin.reason),
        "redriven": redriven,
    }


def details(letter: DeadLetter, redriven: bool = False) -> dict[str, Any]:
    """Everything about one dead letter, content fields redacted; raw bytes only as size and a
    short hex prefix when they are no event."""
    reading = inspect(letter.value)
    shown = summary(letter, redriven, reading)
    value = letter.value or b""
    shown.update({
        "key": _key_text(letter.key),
        "headers": {name: _text(item) for name, item in letter.headers},
        "size": len(value),
        "valid_now": reading.valid,
        "problem_now": reading.problem,
    })
    if reading.record is not None:
        shown["record"] = _jsonable(redact(reading.record))
    else:
        shown["hex_prefix"] = value[:HEX_PREFIX_BYTES].hex(" ")
    return shown


# -- reading the topics ------------------------------------------------------------------------

def _reader(bootstrap: str, **overrides: Any) -> Consumer:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
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


def read_dead_letters(bootstrap: str, prefix: str, timeout: float = 30) -> list[DeadLetter]:
    """Every dead letter on the deployment's dead-letter topic, from the first offset."""
    consumer = _reader(bootstrap)
    try:
        name = topic_name(DEAD_LETTER, prefix)
        return [DeadLetter.from_message(m) for m in _read_all(consumer, name, timeout)]
    finally:
        consumer.close()


def redriven_ids(bootstrap: str, prefix: str, timeout: float = 30) -> set[str]:
    """The ids of dead letters already sent back (committed marks only)."""
    consumer = _reader(bootstrap, **{"isolation.level": "read_committed"})
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


def parse_id(text: str) -> tuple[int, int]:
    """`<partition>:<offset>` as two numbers."""
    partition, sep, offset = text.strip().partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"a dead letter id is <partition>:<offset>, got {text!r}")
    return int(partition), int(offset)


def find_dead_letter(bootstrap: str, prefix: str, letter_id: str,
                     timeout: float = 20) -> DeadLetter | None:
    """The dead letter with that id, or None when the topic has no message there."""
    partition, offset = parse_id(letter_id)
    name = topic_name(DEAD_LETTER, prefix)
    consumer = _reader(bootstrap)
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


# -- redrive -----------------------------------------------------------------------------------

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
    bootstrap: str,
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
        ensure_topics(bootstrap, prefix, timeout)  # the marks topic, on a deployment from before it
        producer = Producer(producer_config(
            bootstrap, **{"transactional.id": transactional_id(prefix), "linger.ms": 20}))
        producer.init_transactions(timeout)  # fences an earlier run; its open work is aborted
    done = redriven_ids(bootstrap, prefix, timeout)
    inputs = _input_topics(prefix)
    resends: list[_Resend] = []
    for letter in select(read_dead_letters(bootstrap, prefix, timeout), reason):
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


def _send_in_transaction(producer: Producer, chunk: Sequence[_Resend], marks: str,
                         timeout: float) -> None:
    """The events and their marks, all or nothing."""
    now = datetime.now(UTC)
    producer.begin_transaction()
    try:
        for resend in chunk:
            producer.produce(
                resend.topic, key=resend.key, value=resend.letter.value,
                headers=[("event-type", resend.event_name.encode()),
                         ("content-type", CONTENT_TYPE),
                         ("dlq-redriven-from", resend.letter.id.encode())])
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
