"""`stories emit`: validate events given as JSON and send them, one or a file of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console

import schemas
from core.settings import Settings
from simulation.jsonl import JsonEventError, read_jsonl, record_from_json
from streams.producer import Delivery, DeliveryError, EventProducer

__all__ = ["emit_file", "emit_one", "read_record"]


def read_record(console: Console, event_name: str, payload: str) -> dict[str, Any]:
    """The event's full record from its JSON fields; exit 2 if it is not a valid event."""
    try:
        return record_from_json(event_name, orjson.loads(payload))
    except (orjson.JSONDecodeError, JsonEventError, schemas.EventError) as error:
        _refuse(console, event_name, error)


def emit_one(settings: Settings, console: Console, event_name: str, record: dict[str, Any]) -> None:
    """Send one event and print where it landed; exit 2 if it is invalid, 1 if not delivered."""
    try:
        with EventProducer.from_settings(settings) as producer:
            delivery = producer.emit(event_name, record)
    except schemas.EventError as error:
        _refuse(console, event_name, error)
    except (DeliveryError, TimeoutError) as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    typer.echo(orjson.dumps(_landed(event_name, delivery)))


def _refuse(console: Console, event_name: str, error: Exception) -> NoReturn:
    """Say why the event is invalid and exit 2: nothing was sent."""
    console.print(f"invalid {event_name}: {error} (nothing was sent)", style="red", markup=False)
    raise typer.Exit(2) from None


def _landed(event_name: str, delivery: Delivery) -> dict[str, Any]:
    """The JSON line that tells where an event was written."""
    return {
        "event": event_name,
        "event_id": delivery.event_id,
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
    }


def emit_file(settings: Settings, console: Console, path: Path) -> int:
    """Send every valid line of a JSON-lines file; report each bad or failed line; exit code."""
    bad_lines: list[tuple[int, str]] = []
    with EventProducer.from_settings(settings) as producer:
        report = producer.emit_many(_valid_events(path, bad_lines))
    failures = sorted(bad_lines + report.failures)
    for number, reason in failures:
        console.print(f"{path}:{number}: {reason}", style="red", markup=False)
    console.print(f"delivered {report.delivered}, failed {len(failures)}")
    return 1 if failures else 0


def _valid_events(
    path: Path, bad_lines: list[tuple[int, str]]
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """The file's readable events as they are read; unreadable lines go to bad_lines."""
    for line in read_jsonl(path):
        if line.record is None:
            bad_lines.append((line.number, line.error))
        else:
            yield line.number, line.event_name, line.record
