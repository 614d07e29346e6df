"""Events as JSON: the form `stories emit` reads and `stories simulate` writes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

import schemas
from core.clock import from_ms, to_ms

__all__ = ["JsonEventError", "JsonLine", "read_jsonl", "record_from_json", "write_jsonl_line"]


class JsonEventError(ValueError):
    """A JSON line that is not an event."""


def _timestamp_fields(event_name: str) -> frozenset[str]:
    """Top-level fields of the event's schema that hold timestamp-millis."""
    fields = schemas.schema_of(event_name)["fields"]
    return frozenset(
        f["name"]
        for f in fields
        if isinstance(f["type"], dict) and f["type"].get("logicalType") == "timestamp-millis"
    )


def _parse_time(field: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int):
        return from_ms(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise JsonEventError(f"{field}: not an ISO-8601 time: {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise JsonEventError(f"{field}: expected ISO-8601 text or epoch milliseconds")


def record_from_json(event_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A full record from JSON fields; event_id and occurred_at are filled in when absent."""
    if event_name not in schemas.EVENT_NAMES:
        raise JsonEventError(f"unknown event {event_name!r}")
    fields = dict(data)
    for name in _timestamp_fields(event_name) & fields.keys():
        fields[name] = _parse_time(name, fields[name])
    if "actor_id" not in fields:
        raise JsonEventError("actor_id: required")
    return schemas.new_event(event_name, **fields)


@dataclass(frozen=True)
class JsonLine:
    """One line of an events file: an event, or the reason it is not one."""

    number: int
    event_name: str = ""
    record: dict[str, Any] | None = None
    error: str = ""


def _parse_line(number: int, line: bytes) -> JsonLine:
    try:
        item = orjson.loads(line)
        event_name = item["event"]
        return JsonLine(number, event_name, record_from_json(event_name, item["data"]))
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        return JsonLine(number, error=f"not an event line: {error}")
    except (JsonEventError, schemas.EventError) as error:
        return JsonLine(number, error=str(error))


def read_jsonl(path: Path) -> Iterator[JsonLine]:
    """Every non-blank line of an events file, parsed."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield _parse_line(number, line)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_ms(value)
    raise TypeError


def write_jsonl_line(out: TextIO, event_name: str, record: Mapping[str, Any]) -> None:
    """Write one event as a JSON line readable by read_jsonl."""
    line = orjson.dumps({"event": event_name, "data": record}, default=_jsonable)
    out.write(line.decode() + "\n")
