"""`stories replay`: check what to rebuild and from when, then rebuild and switch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from prometheus_client import start_http_server
from rich.console import Console

from core.metrics import REPLAY_REGISTRY
from core.settings import Settings
from projections.catalogue import PROJECTIONS
from projections.replay import ReplayPlan, UnfinishedReplay, replay
from projections.runtime import Runtime

__all__ = ["plan", "run", "serving_metrics"]


def plan(
    projection: list[str] | None, all_: bool, from_beginning: bool, since: str | None, grace: float,
    resume: bool = False,
) -> ReplayPlan:
    """The plan the options ask for; contradictory or unknown options are bad parameters."""
    if since and from_beginning:
        raise typer.BadParameter("give --since or --from-beginning, not both")
    if projection and all_:
        raise typer.BadParameter("give --projection or --all, not both")
    if resume and (from_beginning or since or projection or all_):
        raise typer.BadParameter("--resume continues the interrupted replay with its own "
                                 "projections and start: give it alone")
    chosen = _chosen(projection)
    return ReplayPlan(projections=chosen, since=_start(since), grace_seconds=grace,
                      resume=resume, from_beginning=from_beginning)


def _chosen(projection: list[str] | None) -> tuple[str, ...]:
    """The named projections in catalogue order, or all of them when none is named."""
    unknown = sorted(set(projection or ()) - set(PROJECTIONS))
    if unknown:
        raise typer.BadParameter(f"--projection: unknown {', '.join(unknown)}; "
                                 f"choose from {', '.join(PROJECTIONS)}")
    if not projection:
        return PROJECTIONS
    return tuple(name for name in PROJECTIONS if name in set(projection))


def _start(since: str | None) -> datetime | None:
    """The aware time --since names; a naive one would be read in the local zone."""
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"--since: not an ISO-8601 time: {since!r}") from None
    if start is not None and start.tzinfo is None:
        raise typer.BadParameter("--since needs a timezone, e.g. 2026-11-20T00:00:00+00:00")
    return start


def run(settings: Settings, console: Console, replay_plan: ReplayPlan) -> None:
    """Replay into a new version, close the connections, and report the rate."""
    runtime = Runtime(settings)
    try:
        report = replay(runtime, replay_plan, console)
    except UnfinishedReplay as refused:
        console.print(f"[red]{refused}[/]")
        raise typer.Exit(2) from None
    finally:
        runtime.close()
    console.print(
        f"version {report.version} live: {report.events} events in {report.seconds:.1f} s "
        f"({report.rate:,.0f} events/s)"
    )


@contextmanager
def serving_metrics(host: str, port: int) -> Iterator[None]:
    """The replay's metrics on http://host:port/metrics while the block runs (port 0: none).

    Only while it runs: a scrape after the process has ended finds nothing, and nothing is
    pushed; the last line on the terminal is the record of a finished replay.
    """
    if not port:
        yield
        return
    try:
        server, _ = start_http_server(port, addr=host, registry=REPLAY_REGISTRY)
    except OSError as error:
        raise typer.BadParameter(f"--metrics-port: cannot serve on {host}:{port}: {error}") from None
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
