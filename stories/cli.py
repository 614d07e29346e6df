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

from core.settings import get_settings

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
def up(
    services: Annotated[
        list[str] | None, typer.Argument(help="Only these: kafka, cassandra, redis, s3proxy")
    ] = None,
    init: Annotated[bool, typer.Option(help="Also run `stories init` (when starting all)")] = True,
) -> None:
    """Start the local stack (Kafka, CQL server, Redis, S3) and wait until each is ready."""
    from infra.stack import StackError
    from infra.stack import up as start_stack

    settings = get_settings()
    try:
        start_stack(settings, console, services)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    except StackError as error:
        console.print(str(error), style="red", markup=False)
        raise typer.Exit(1) from None
    if init and not services:
        _init(settings)


@app.command()
def down(
    services: Annotated[
        list[str] | None, typer.Argument(help="Only these: kafka, cassandra, redis, s3proxy")
    ] = None,
) -> None:
    """Stop the processes that `stories up` started (and only those)."""
    from infra.stack import down as stop_stack

    try:
        stop_stack(get_settings(), console, services)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


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
    from simulation.jsonl import JsonEventError, record_from_json
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
    from simulation.jsonl import read_jsonl
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
def worker(
    supervise: Annotated[
        bool, typer.Option(help="Restart the worker with back-off when it dies of an error")
    ] = True,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes sharing the partitions (default: "
                                 "STORIES_WORKER_PROCESSES); each serves metrics on its own "
                                 "port, counting up from STORIES_WORKER_METRICS_PORT"),
    ] = None,
) -> None:
    """Run the projection worker: fold the topics into the read models, expire stories,
    process media."""
    settings = get_settings()
    if supervise:
        from streams.supervisor import child_environments, worker_child_argv
        from streams.supervisor import supervise as run_supervised

        count = processes or settings.worker_processes
        environments = child_environments(count, settings.worker_metrics_port)
        raise typer.Exit(run_supervised(worker_child_argv(), environments))
    if processes not in (None, 1):
        raise typer.BadParameter("--no-supervise runs exactly one process", param_hint="--processes")
    from projections.runtime import Runtime
    from stories.worker import run_worker

    run_worker(Runtime(settings))


@app.command()
def replay(
    projection: Annotated[
        list[str] | None,
        typer.Option("--projection", help="Rebuild and switch only these (repeatable): "
                                          "stories, trays, graph, engagement, highlights"),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Rebuild and switch every projection")] = False,
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
    """Rebuild read models from the log into a new version beside the live one, then switch.

    Every projection by default (--all); --projection NAME switches only those (the log is
    still read whole, since each fold needs the others' state). Shows progress (events done,
    total, rate, ETA). The live version keeps serving until the new one has caught up;
    Ctrl-C before the switch leaves the live version intact.
    """
    from datetime import datetime

    from projections.catalogue import PROJECTIONS
    from projections.replay import ReplayPlan
    from projections.replay import replay as run_replay
    from projections.runtime import Runtime

    if since and from_beginning:
        raise typer.BadParameter("give --since or --from-beginning, not both")
    if projection and all_:
        raise typer.BadParameter("give --projection or --all, not both")
    unknown = sorted(set(projection or ()) - set(PROJECTIONS))
    if unknown:
        raise typer.BadParameter(f"--projection: unknown {', '.join(unknown)}; "
                                 f"choose from {', '.join(PROJECTIONS)}")
    chosen = tuple(p for p in PROJECTIONS if p in set(projection)) if projection else PROJECTIONS
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"--since: not an ISO-8601 time: {since!r}") from None
    if start is not None and start.tzinfo is None:
        raise typer.BadParameter("--since needs a timezone, e.g. 2026-11-20T00:00:00+00:00")
    runtime = Runtime(get_settings())
    try:
        plan = ReplayPlan(projections=chosen, since=start, grace_seconds=grace)
        report = run_replay(runtime, plan, console)
    finally:
        runtime.close()
    console.print(
        f"version {report.version} live: {report.events} events in {report.seconds:.1f} s "
        f"({report.rate:,.0f} events/s)"
    )


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="Users in the world")] = 1000,
    rate: Annotated[float, typer.Option(help="Target activity events per second")] = 1000.0,
    duration: Annotated[float | None, typer.Option(help="Seconds of activity (rate x duration "
                                                        "events); overrides --events")] = None,
    events: Annotated[int, typer.Option(help="Activity events, after the world's graph")] = 10_000,
    mix: Annotated[str, typer.Option(help="Shares, e.g. 'text=0.3,image=0.5,video=0.2,"
                                          "react=0.1' (see streams/simulate.py Mix)")] = "",
    seed: Annotated[int, typer.Option(help="Same seed, start and options: same events")] = 1,
    start: Annotated[str | None, typer.Option(help="ISO-8601 time of the first activity event "
                                                   "(default: now; with --out, now minus the run)")] = None,
    backdate: Annotated[float | None, typer.Option(help="Date posts so each expires this many "
                                                        "seconds after it is sent")] = None,
    media: Annotated[bool, typer.Option(help="Emit MediaProcessed for image and video stories "
                                             "(no upload exists: without it the media worker "
                                             "refuses them after its upload deadline)")] = True,
    graph: Annotated[bool, typer.Option(help="Emit the world's follows and close friends "
                                             "first (skip when already sent)")] = True,
    out: Annotated[Path | None, typer.Option(help="Write JSON lines for `stories emit --file` "
                                                  "instead of sending")] = None,
) -> None:
    """Generate a synthetic social world and its activity, and send it (or write it to a file).

    Heavy-tailed follower counts, close friends, posting habits, views that decay after a post,
    tap-through in order, reactions, replies, sticker answers, deletions and highlights.
    """
    from simulation.emitter import run_simulation
    from simulation.simulate import Mix, SimulationConfig

    count = round(rate * duration) if duration is not None else events
    try:
        moment = _simulation_start(start, count / rate if out else 0.0)
        config = SimulationConfig(users=users, seed=seed, start=moment, rate=rate, events=count,
                                  mix=Mix.parse(mix), backdate=backdate, simulate_media=media,
                                  graph=graph)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    report = run_simulation(config, console, out, get_settings())
    for reason in report.errors:
        console.print(reason, style="red", markup=False)
    console.print(f"sent {report.sent} events in {report.seconds:.1f} s ({report.rate:,.0f}/s): "
                  f"{report.delivered} delivered, {report.failed} failed")
    raise typer.Exit(1 if report.failed else 0)


@app.command()
def bench(
    size: Annotated[str, typer.Option(help="full (make bench) or small (make test)")] = "full",
    record: Annotated[bool, typer.Option(help="Append a row to docs/benchmarks.md")] = False,
    section: Annotated[list[str] | None, typer.Option(help="Only this section (repeatable): "
                                                           "ingest, freshness, gateway, footprint, "
                                                           "replay, fanout, media")] = None,
    background_rate: Annotated[float | None, typer.Option(
        help="Events/s of simulated load under the freshness probes")] = None,
    worker_processes: Annotated[int | None, typer.Option(
        min=1, help="Processes of the measured worker "
                    "(default: one per core at full size, 1 at small)")] = None,
) -> None:
    """Measure ingest, freshness, gateway reads, replay, fan-out, footprint and media.

    Runs on a private deployment of the running stack, prints a table, writes
    reports/bench-<timestamp>.json and marks each target met or missed.
    """
    from bench.suite import SECTIONS, SIZES, run_suite

    chosen = tuple(section or SECTIONS)
    if size not in SIZES or set(chosen) - set(SECTIONS):
        raise typer.BadParameter(f"sizes: {', '.join(SIZES)}; sections: {', '.join(SECTIONS)}")
    overrides: dict[str, float | int] = {"background_rate": background_rate} if background_rate else {}
    if worker_processes:
        overrides["worker_processes"] = worker_processes
    report, _ = run_suite(get_settings(), size, console, record=record, sections=chosen,
                          **overrides)
    failed = [name for name, s in report["sections"].items() if s["status"] == "failed"]
    raise typer.Exit(1 if failed else 0)


def _simulation_start(text: str | None, span_seconds: float):
    """The given ISO-8601 time, or now minus the run's span (a file's events end by now)."""
    from datetime import UTC, datetime, timedelta

    if text is None:
        return datetime.now(UTC) - timedelta(seconds=span_seconds)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("--start needs a timezone, e.g. 2026-11-20T00:00:00+00:00")
    return moment


@app.command("reconcile-media")
def reconcile_media(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, delete nothing")] = False,
) -> None:
    """Remove media no story needs: keys of gone stories, orphaned objects, stale uploads.

    Prints what was removed as JSON. The worker runs the same pass on a timer.
    """
    from media.reconcile import reconcile_with_settings

    report = reconcile_with_settings(get_settings(), dry_run=dry_run)
    console.print(report.summary(), markup=False)
    typer.echo(orjson.dumps(report.as_dict()))


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
