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
from core.tracing import parse_traceparent, reasonable_request_id
from simulation.jsonl import JsonEventError, read_jsonl, record_from_json
from streams.producer import Delivery, DeliveryError, EventProducer, ExtraHeaders
from streams.tracing import trace_headers

__all__ = ["emit_file", "emit_one", "read_record", "request_headers"]


def request_headers(request_id: str | None, traceparent: str | None) -> ExtraHeaders:
    """The x-request-id and traceparent (a span under the one given) the events go with."""
    if request_id is not None and reasonable_request_id(request_id) is None:
        raise typer.BadParameter("1 to 128 visible ASCII characters", param_hint="--request-id")
    span = parse_traceparent(traceparent)
    if traceparent is not None and span is None:
        raise typer.BadParameter("00-<32 hex>-<16 hex>-<2 hex>, lowercase, ids not all zeros",
                                 param_hint="--traceparent")
    return trace_headers(request_id, span)


def read_record(console: Console, event_name: str, payload: str) -> dict[str, Any]:
    """The event's full record from its JSON fields; exit 2 if it is not a valid event."""
    try:
        return record_from_json(event_name, orjson.loads(payload))
    except (orjson.JSONDecodeError, JsonEventError, schemas.EventError) as error:
        _refuse(console, event_name, error)


def emit_one(settings: Settings, console: Console, event_name: str, record: dict[str, Any],
             headers: ExtraHeaders = ()) -> None:
    """Send one event and print where it landed; exit 2 if it is invalid, 1 if not delivered."""
    try:
        with EventProducer.from_settings(settings) as producer:
            delivery = producer.emit(event_name, record, headers=headers)
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


def emit_file(settings: Settings, console: Console, path: Path, headers: ExtraHeaders = ()
              ) -> int:
    """Send every valid line of a JSON-lines file; report each bad or failed line; exit code."""
    bad_lines: list[tuple[int, str]] = []
    with EventProducer.from_settings(settings) as producer:
        report = producer.emit_many(_valid_events(path, bad_lines), headers)
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
