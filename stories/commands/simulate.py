"""`stories simulate`: configure a synthetic world, send or write it, report the delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console

from core.settings import Settings
from simulation.config import Mix, SimulationConfig
from simulation.emitter import run_simulation

__all__ = ["config", "run"]


def config(
    *,
    users: int,
    rate: float,
    duration: float | None,
    events: int,
    mix: str,
    seed: int,
    start: str | None,
    backdate: float | None,
    media: bool,
    graph: bool,
    to_file: bool,
) -> SimulationConfig:
    """The simulation the options describe; a bad option is a bad parameter."""
    count = round(rate * duration) if duration is not None else events
    try:
        moment = _simulation_start(start, count / rate if to_file else 0.0)
        return SimulationConfig(users=users, seed=seed, start=moment, rate=rate, events=count,
                                mix=Mix.parse(mix), backdate=backdate, simulate_media=media,
                                graph=graph)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _simulation_start(text: str | None, span_seconds: float) -> datetime:
    """The given ISO-8601 time, or now minus the run's span (a file's events end by now)."""
    if text is None:
        return datetime.now(UTC) - timedelta(seconds=span_seconds)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("--start needs a timezone, e.g. 2026-11-20T00:00:00+00:00")
    return moment


def run(settings: Settings, console: Console, simulation: SimulationConfig, out: Path | None) -> None:
    """Send (or write) the simulation, print its errors and tally; exit 1 if any send failed."""
    report = run_simulation(simulation, console, out, settings)
    for reason in report.errors:
        console.print(reason, style="red", markup=False)
    console.print(f"sent {report.sent} events in {report.seconds:.1f} s ({report.rate:,.0f}/s): "
                  f"{report.delivered} delivered, {report.failed} failed")
    raise typer.Exit(1 if report.failed else 0)
