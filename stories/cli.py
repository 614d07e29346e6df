"""The `stories` command: run the local stack, create topics and schema, emit events.

This module declares the subcommands, their arguments and help; stories/commands/ does the work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from core.logs import configure_logging
from core.settings import CLUSTER_ENV_FILE, ENV_FILE_VARIABLE, get_settings, settings_problems
from core.version import VERSION
from stories.commands.admin import app as admin_app
from stories.commands.dlq import app as dlq_app

__all__ = ["app"]

app = typer.Typer(
    help="stories: an event-sourced backend for ephemeral Stories.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"stories {VERSION}")
        raise typer.Exit()


ClusterOption = Annotated[bool, typer.Option(
    "--cluster", help="The local cluster: the settings of infra/cluster.env under the environment")]


def _use_cluster(wanted: bool) -> None:
    """Point these settings, and those of every process started from here, at the local cluster."""
    if wanted:
        os.environ[ENV_FILE_VARIABLE] = str(CLUSTER_ENV_FILE)
        get_settings.cache_clear()


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Debug detail (STORIES_LOG_LEVEL=DEBUG, for the processes "
                                "started from here too)")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Show the version and exit")] = False,
    cluster: ClusterOption = False,
) -> None:
    """Log to stderr as STORIES_LOG_FORMAT and STORIES_LOG_LEVEL say; --cluster for any command
    against the local cluster."""
    if verbose:
        os.environ["STORIES_LOG_LEVEL"] = "DEBUG"  # inherited by workers, gateway processes
        get_settings.cache_clear()
    _use_cluster(cluster)
    try:
        settings = get_settings()
    except ValidationError as error:
        for problem in settings_problems(error):
            typer.echo(f"stories: {problem}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings)


SERVICES_HELP = ("Only these: kafka, cassandra, redis, redis-cluster, s3proxy; on the cluster "
                 "kafka-1…3, cassandra-1…3, redis-1…6, redis-cluster, s3proxy")


@app.command()
def up(
    services: Annotated[list[str] | None, typer.Argument(help=SERVICES_HELP)] = None,
    init: Annotated[bool, typer.Option(help="Also run `stories init` (when starting all)")] = True,
    cluster: ClusterOption = False,
) -> None:
    """Start the local stack (Kafka, CQL server, Redis, S3) and wait until each is ready;
    --cluster: three Kafka brokers, three Cassandra nodes, a Redis Cluster of six, S3."""
    from stories.commands import stack

    _use_cluster(cluster)
    stack.start(get_settings(), console, services, init)


@app.command()
def down(
    services: Annotated[list[str] | None, typer.Argument(help=SERVICES_HELP)] = None,
    cluster: ClusterOption = False,
) -> None:
    """Stop the processes that `stories up` started (and only those): the stack's, and the
    local cluster's when it runs."""
    from stories.commands import stack

    _use_cluster(cluster)
    stack.stop(get_settings(), console, services)


@app.command()
def status(cluster: ClusterOption = False) -> None:
    """Show each service of the local stack, its address and health."""
    from stories.commands import stack

    _use_cluster(cluster)
    stack.show_status(get_settings())


@app.command()
def init(cluster: ClusterOption = False) -> None:
    """Create the topics, the CQL schema (versioned migrations) and the bucket if missing."""
    from stories.commands import stack

    _use_cluster(cluster)
    stack.initialize(get_settings(), console)


@app.command()
def emit(
    event: Annotated[str | None, typer.Argument(help="Event name, e.g. StoryViewed")] = None,
    json: Annotated[str | None, typer.Option("--json", help="The event's fields as JSON")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help='JSON lines: {"event": NAME, "data": {...}}')
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Sent in the x-request-id header")
    ] = None,
    traceparent: Annotated[
        str | None, typer.Option("--traceparent", help="A W3C traceparent; the events carry a "
                                                       "span of its trace")
    ] = None,
) -> None:
    """Validate and send events to Kafka, waiting for the broker's acknowledgement.

    event_id and occurred_at are filled in when absent. Times are ISO-8601 or epoch ms.
    Without --request-id or --traceparent the events carry neither header.
    """
    from stories.commands import emit as command

    headers = command.request_headers(request_id, traceparent)
    if file is not None and event is None:
        raise typer.Exit(command.emit_file(get_settings(), console, file, headers))
    if file is not None or event is None:
        raise typer.BadParameter("give either EVENT with --json, or --file")
    record = command.read_record(console, event, json or "{}")
    command.emit_one(get_settings(), console, event, record, headers)


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
    from stories.commands import worker as command

    command.run(get_settings(), supervise, processes)


@app.command()
def replay(
    projection: Annotated[
        list[str] | None,
        typer.Option("--projection", help="Rebuild and switch only these (repeatable): "
                                          "stories, trays, graph, engagement, highlights"),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Rebuild and switch every projection")] = False,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start over: discard an interrupted replay "
                                                    "(the opposite of --resume) and read every "
                                                    "topic from its first event")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted replay (kill -9 included) "
                                            "from its checkpoint, with the plan it started with")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="ISO-8601 time: story and engagement topics from then on "
                          "(graph and highlights always from the beginning)"),
    ] = None,
    grace: Annotated[float, typer.Option(help="Seconds to keep tailing after the switch")] = 5.0,
    metrics_port: Annotated[int, typer.Option(
        min=0, max=65535, help="Serve the replay's progress as Prometheus metrics on this port "
                               "while it runs (0: not served)")] = 0,
    metrics_host: Annotated[str, typer.Option(
        help="Address of --metrics-port (0.0.0.0 in a container)")] = "127.0.0.1",
) -> None:
    """Rebuild read models from the log into a new version beside the serving one, then switch.

    Every projection by default (--all); --projection NAME switches only those (the log is
    still read whole, since each fold needs the others' state). Shows progress (events done,
    total, rate, ETA), and with --metrics-port serves it to Prometheus too. The serving version
    keeps serving until the new one has caught up; Ctrl-C before the switch leaves the serving
    version intact. A replay that died instead keeps a checkpoint: --resume continues it,
    --from-beginning starts over, and a plain replay refuses to start beside it.
    """
    from stories.commands import replay as command

    plan = command.plan(projection, all_, from_beginning, since, grace, resume)
    with command.serving_metrics(metrics_host, metrics_port):
        command.run(get_settings(), console, plan)


@app.command()
def simulate(
    users: Annotated[int, typer.Option(help="Users in the world")] = 1000,
    rate: Annotated[float, typer.Option(help="Target activity events per second")] = 1000.0,
    duration: Annotated[float | None, typer.Option(help="Seconds of activity (rate x duration "
                                                        "events); overrides --events")] = None,
    events: Annotated[int, typer.Option(help="Activity events, after the world's graph")] = 10_000,
    mix: Annotated[str, typer.Option(help="Shares, e.g. 'text=0.3,image=0.5,video=0.2,"
                                          "react=0.1' (see simulation/config.py Mix)")] = "",
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
    from stories.commands import simulate as command

    config = command.config(users=users, rate=rate, duration=duration, events=events, mix=mix,
                            seed=seed, start=start, backdate=backdate, media=media, graph=graph,
                            to_file=out is not None)
    command.run(get_settings(), console, config, out)


bench_app = typer.Typer()


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    size: Annotated[str, typer.Option(help="full (make bench) or small (make test)")] = "full",
    record: Annotated[bool, typer.Option(
        help="Append a row to docs/benchmarks.md; a full run (every section at full size) "
             "also replaces docs/benchmarks.json")] = False,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Also write every figure as one flat JSON object to this file "
                       "(fixed keys; null for a figure not measured)")] = None,
    section: Annotated[list[str] | None, typer.Option(help="Only this section (repeatable): "
                                                           "ingest, freshness, expiry, gateway, "
                                                           "footprint, soak, replay, fanout, "
                                                           "media")] = None,
    background_rate: Annotated[list[float] | None, typer.Option(
        help="Events/s of simulated load under the freshness probes (repeatable: one load "
             "each; default 1000, 2000 and 5000 at full size); the expiry probes run under "
             "the lightest")] = None,
    soak_seconds: Annotated[float | None, typer.Option(
        min=1, help="Seconds of the memory soak after its warm-up "
                    "(default: 600 at full size, 4 at small)")] = None,
    worker_processes: Annotated[int | None, typer.Option(
        min=1, help="Processes of the measured worker "
                    "(default: one per core at full size, 1 at small)")] = None,
    cluster: Annotated[bool, typer.Option(
        "--cluster", help="On the local cluster (ingest only unless sections are named)")] = False,
) -> None:
    """Measure ingest, freshness, expiry, gateway reads, footprint, a soak, replay, fan-out, media.

    Runs on a private deployment of the running stack, prints a table, writes
    reports/bench-<timestamp>.json (with --json, the flat figures too) and marks each target
    met or missed. `stories bench capacity` turns a report into the capacity plan of
    docs/scaling.md. With --cluster it runs on the local cluster (`stories up --cluster`) and
    its report says so: the ingest figure with replication, beside the single-node one.
    """
    if ctx.invoked_subcommand:
        return
    from stories.commands import bench as command

    _use_cluster(cluster)
    sections = command.sections(size, section or (["ingest"] if cluster else None))
    command.run(get_settings(), console, size, sections, record=record,
                background_rates=background_rate, worker_processes=worker_processes,
                soak_seconds=soak_seconds, flat=json_path)


@bench_app.command("capacity")
def bench_capacity(
    report: Annotated[Path | None, typer.Option(
        help="A bench JSON report (default: the newest reports/bench-*.json)")] = None,
    write: Annotated[bool, typer.Option(
        help="Keep the report as docs/scaling-bench.json and rewrite docs/scaling.md's block")
    ] = False,
) -> None:
    """Plan Kafka, workers, Redis and ScyllaDB for the design figures from a bench report.

    Prints the generated block of docs/scaling.md: every figure with its formula.
    """
    from stories.commands import bench as command

    command.capacity(report, write)


app.add_typer(bench_app, name="bench")


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


app.add_typer(dlq_app, name="dlq")
app.add_typer(admin_app, name="admin")


@app.command()
def gateway() -> None:
    """Serve the HTTP API (reads from the read models, commands become events); /metrics on
    STORIES_GATEWAY_METRICS_PORT when set."""
    from gateway.cli import serve
    from gateway.metrics import MetricsPortTaken

    try:
        serve(get_settings())
    except MetricsPortTaken as refused:
        typer.echo(f"stories: {refused}", err=True)
        raise typer.Exit(2) from None


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
