"""Dead letters shown to operators without what people wrote: a summary line and full details,
content fields redacted and raw bytes only as size and a short hex prefix."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from streams.dead_letters.records import DeadLetter, Reading, _text, inspect, reason_class

CONTENT_FIELDS: frozenset[str] = frozenset({"text", "caption", "prompt", "options", "title"})
"""Fields that hold what people wrote (story text, captions, sticker prompts and options, free-text
answers, highlight titles), at any depth of an event; identifiers, times and counts are not."""

REDACTED = "<redacted>"
HEX_PREFIX_BYTES = 16
"""Bytes of an undecodable value shown in hex: the framing header and a few body bytes."""


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
    origin, request = letter.origin, letter.request
    reading = reading or inspect(letter.value)
    return {
        "id": letter.id,
        "time": letter.timestamp.isoformat() if letter.timestamp else None,
        "source": {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset},
        "event": reading.event_name,
        "reason": origin.reason,
        "class": reason_class(origin.reason),
        "redriven": redriven,
        "request_id": request.request_id,
        "trace_id": request.trace_id,
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
