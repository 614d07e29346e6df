"""What a dead letter is: the message, the origin and reason its headers carry, its id, the class
of its reason, and what its value reads as today."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from confluent_kafka import Message

import schemas
from streams.tracing import Traced, traced

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

    @property
    def request(self) -> Traced:
        """The request id and trace id of the request the event was sent for, if it says."""
        return traced(self.headers)

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


def parse_id(text: str) -> tuple[int, int]:
    """`<partition>:<offset>` as two numbers."""
    partition, sep, offset = text.strip().partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"a dead letter id is <partition>:<offset>, got {text!r}")
    return int(partition), int(offset)
