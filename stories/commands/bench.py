"""`stories bench`: check the size and sections asked for, run the suite, exit on its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bench.capacity import MissingFigure, regenerate
from bench.suite import SECTIONS, SIZES, run_suite
from core.settings import Settings

__all__ = ["run", "sections", "capacity"]


def sections(size: str, section: list[str] | None) -> tuple[str, ...]:
    """The sections to run (all by default); an unknown size or section is a bad parameter."""
    chosen = tuple(section or SECTIONS)
    if size not in SIZES or set(chosen) - set(SECTIONS):
        raise typer.BadParameter(f"sizes: {', '.join(SIZES)}; sections: {', '.join(SECTIONS)}")
    return chosen


def run(
    settings: Settings,
    console: Console,
    size: str,
    chosen: tuple[str, ...],
    *,
    record: bool,
    background_rates: list[float] | None,
    worker_processes: int | None,
    soak_seconds: float | None = None,
    flat: Path | None = None,
) -> None:
    """Run the chosen sections at one size; exit 1 if any section failed."""
    overrides = _overrides(background_rates, worker_processes, soak_seconds)
    report, _ = run_suite(settings, size, console, record=record, sections=chosen, flat=flat,
                          **overrides)
    failed = [name for name, s in report["sections"].items() if s["status"] == "failed"]
    raise typer.Exit(1 if failed else 0)


def _overrides(background_rates: list[float] | None, worker_processes: int | None,
               soak_seconds: float | None = None) -> dict[str, Any]:
    """The size's settings the options replace; unset (or zero) options keep the size's own."""
    rates = tuple(rate for rate in background_rates or () if rate)
    chosen: dict[str, Any] = {"background_rates": rates} if rates else {}
    if worker_processes:
        chosen["worker_processes"] = worker_processes
    if soak_seconds:
        chosen["soak_seconds"] = soak_seconds
    return chosen


def capacity(report: Path | None, write: bool) -> None:
    """Print the plan's block, or write it into docs/scaling.md; a missing figure exits 1."""
    try:
        block = regenerate(report, write)
    except (MissingFigure, FileNotFoundError, ValueError) as error:
        typer.echo(f"capacity: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo("docs/scaling.md rewritten" if write else block)
