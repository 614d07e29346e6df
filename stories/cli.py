"""The `stories` command: run the local stack, create topics and schema, emit events."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from stories.settings import get_settings

__all__ = ["app"]

app = typer.Typer(
    help="stories: an event-sourced backend for ephemeral Stories.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


@app.callback()
def _configure(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Log to stderr; -v for debug detail."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def up(init: Annotated[bool, typer.Option(help="Also run `stories init`")] = True) -> None:
    """Start the local stack (Kafka, CQL server, Redis, S3) and wait until each is ready."""
    from infra.stack import StackError
    from infra.stack import up as start_stack

    settings = get_settings()
    try:
        start_stack(settings, console)
    except StackError as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    if init:
        _init(settings)


@app.command()
def down() -> None:
    """Stop the processes that `stories up` started (and only those)."""
    from infra.stack import down as stop_stack

    stop_stack(get_settings(), console)


@app.command()
def status() -> None:
    """Show each service of the local stack, its address and health."""
    from infra.stack import status as stack_status

    services = stack_status(get_settings())
    table = Table("service", "address", "running", "healthy", "pid", "detail")
    for service in services:
        table.add_row(
            service.name,
            service.address,
            _yes(service.running),
            _yes(service.healthy),
            str(service.pid or "-"),
            service.detail,
        )
    Console().print(table)
    if not all(service.healthy for service in services):
        raise typer.Exit(1)


def _yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]no[/red]"


@app.command()
def init() -> None:
    """Create the topics, the CQL schema (versioned migrations) and the bucket if missing."""
    _init(get_settings())


def _init(settings) -> None:
    from stories.bootstrap import init_all

    report = init_all(settings)
    console.print(
        f"topics created: {len(report.topics_created)}, "
        f"read models in keyspace {report.read_model_keyspace} (migrated), "
        f"bucket {'created' if report.bucket_created else 'present'}"
    )


@app.command()
def emit(
    event: Annotated[str | None, typer.Argument(help="Event name, e.g. StoryViewed")] = None,
    json: Annotated[str | None, typer.Option("--json", help="The event's fields as JSON")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help='JSON lines: {"event": NAME, "data": {...}}')
    ] = None,
) -> None:
    """Validate and send events to Kafka, waiting for the broker's acknowledgement.

    event_id and occurred_at are filled in when absent. Times are ISO-8601 or epoch ms.
    """
    if (file is None) == (event is None):
        raise typer.BadParameter("give either EVENT with --json, or --file")
    if file is not None:
        raise typer.Exit(_emit_file(file))
    _emit_one(event, json or "{}")


def _emit_one(event_name: str, payload: str) -> None:
    import schemas
    from streams.jsonl import JsonEventError, record_from_json
    from streams.producer import DeliveryError, EventProducer

    try:
        record = record_from_json(event_name, orjson.loads(payload))
        with EventProducer.from_settings(get_settings()) as producer:
            delivery = producer.emit(event_name, record)
    except (orjson.JSONDecodeError, JsonEventError, schemas.EventError) as error:
        console.print(f"invalid {event_name}: {error} (nothing was sent)", style="red", markup=False)
        raise typer.Exit(2) from None
    except (DeliveryError, TimeoutError) as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    typer.echo(
        orjson.dumps(
            {
                "event": event_name,
                "event_id": delivery.event_id,
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
            }
        )
    )


def _emit_file(path: Path) -> int:
    from streams.jsonl import read_jsonl
    from streams.producer import EventProducer

    bad_lines: list[tuple[int, str]] = []

    def valid_events():
        for line in read_jsonl(path):
            if line.error:
                bad_lines.append((line.number, line.error))
            else:
                yield line.number, line.event_name, line.record

    with EventProducer.from_settings(get_settings()) as producer:
        report = producer.emit_many(valid_events())
    failures = sorted(bad_lines + report.failures)
    for number, reason in failures:
        console.print(f"{path}:{number}: {reason}", style="red", markup=False)
    console.print(f"delivered {report.delivered}, failed {len(failures)}")
    return 1 if failures else 0


@app.command()
def worker() -> None:
    """Run the projection worker: fold the topics into the read models, expire stories."""
    from stories.runtime import Runtime
    from streams.worker import run_worker

    run_worker(Runtime(get_settings()))


@app.command()
def replay(
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Read every topic from its first event")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="ISO-8601 time: story and engagement topics from then on "
                          "(graph and highlights always from the beginning)"),
    ] = None,
    grace: Annotated[float, typer.Option(help="Seconds to keep tailing after the switch")] = 5.0,
) -> None:
    """Rebuild the read models from the log into a new version beside the live one, then switch.

    Shows progress (events done, total, rate, ETA). The live version keeps serving until the
    new one has caught up; Ctrl-C before the switch leaves the live version intact.
    """
    from datetime import datetime

    from stories.runtime import Runtime
    from streams.replay import ReplayPlan
    from streams.replay import replay as run_replay

    if since and from_beginning:
        raise typer.BadParameter("give --since or --from-beginning, not both")
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"--since: not an ISO-8601 time: {since!r}") from None
    if start is not None and start.tzinfo is None:
        raise typer.BadParameter("--since needs a timezone, e.g. 2026-11-20T00:00:00+00:00")
    runtime = Runtime(get_settings())
    try:
        report = run_replay(runtime, ReplayPlan(since=start, grace_seconds=grace), console)
    finally:
        runtime.close()
    console.print(
        f"version {report.version} live: {report.events} events in {report.seconds:.1f} s "
        f"({report.rate:,.0f} events/s)"
    )


@app.command()
def gateway() -> None:
    """Serve the HTTP API (reads from the read models, commands become events)."""
    from gateway.cli import serve

    serve(get_settings())


@app.command()
def token(
    user_id: Annotated[str, typer.Argument(help="The user the token speaks for")],
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 3600,
) -> None:
    """Print a bearer token for USER_ID signed with the configured secret (local use)."""
    from gateway.cli import issue_token

    typer.echo(issue_token(get_settings(), user_id, ttl))


if __name__ == "__main__":
    app()
