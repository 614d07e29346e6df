"""Sending a stream of events at a target rate, or writing it as JSON lines, with a progress bar.

Used by `stories simulate` (and the benchmark's background load). Delivery is counted from the
broker's acknowledgements, so the bar's errors are real failures, not guesses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

import schemas
from core.settings import Settings, get_settings
from simulation.activity import Simulation
from simulation.config import SimulationConfig
from simulation.events import Event
from simulation.jsonl import write_jsonl_line
from streams.producer import Delivery, EventProducer

__all__ = ["EmitReport", "send_paced", "write_file", "emit_progress", "run_simulation"]

MAX_ERRORS_KEPT = 20
REFRESH_SECONDS = 0.2


@dataclass
class EmitReport:
    """What a run sent and what the broker made of it."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def fail(self, reason: str) -> None:
        """Count a failure, keeping the first few reasons for the summary."""
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(reason)


class _Tally:
    """Acknowledgements counted from the producer's delivery thread."""

    def __init__(self, report: EmitReport):
        self.report = report
        self.lock = threading.Lock()

    def settle(self, outcome: Future[Delivery]) -> None:
        error = outcome.exception()
        with self.lock:
            if error is None:
                self.report.delivered += 1
            else:
                self.report.fail(str(error))


class _RateColumn(ProgressColumn):
    """Events per second, averaged by rich over the last seconds."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} events/s")


def emit_progress(console: Console) -> Progress:
    """Events sent of the total, rate, errors and elapsed time."""
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), MofNCompleteColumn(), _RateColumn(),
        TextColumn("[red]{task.fields[errors]} errors"), TimeElapsedColumn(),
        console=console, transient=False,
    )


class _Bar:
    """One task on the progress display, or nothing when there is no display."""

    def __init__(self, progress: Progress | None, description: str, total: int | None):
        self.progress = progress
        self.task = progress.add_task(description, total=total, errors=0) if progress else None

    def show(self, report: EmitReport) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=report.sent, errors=report.failed)


class _Pacer:
    """Holds event k of the paced part back until `k / rate` seconds after that part began."""

    def __init__(self, rate: float | None, unpaced: int):
        self.rate = rate
        self.unpaced = unpaced
        self.started: float | None = None

    def wait(self, index: int) -> None:
        if self.rate is None or index < self.unpaced:
            return
        if self.started is None:
            self.started = time.perf_counter()
        ahead = self.started + (index - self.unpaced) / self.rate - time.perf_counter()
        if ahead > 0.002:
            time.sleep(ahead)


def send_paced(
    events: Iterable[Event], producer: EventProducer, rate: float | None, unpaced: int = 0,
    progress: Progress | None = None, total: int | None = None,
) -> EmitReport:
    """Send every event (the first `unpaced` at once, the rest at `rate`), then wait for acks."""
    report = EmitReport()
    tally, pacer, bar = _Tally(report), _Pacer(rate, unpaced), _Bar(progress, "sending", total)
    started = last = time.perf_counter()
    for index, (name, record) in enumerate(events):
        pacer.wait(index)
        try:
            producer.send(name, record).add_done_callback(tally.settle)
        except (schemas.EventError, ValueError, KeyError) as error:
            with tally.lock:
                report.fail(f"{name} {record.get('event_id')}: {error}")
        report.sent += 1
        if time.perf_counter() - last > REFRESH_SECONDS:
            last = time.perf_counter()
            bar.show(report)
    producer.flush()
    report.seconds = time.perf_counter() - started
    bar.show(report)
    return report


def write_file(events: Iterable[Event], path: Path, progress: Progress | None = None,
               total: int | None = None) -> EmitReport:
    """Validate each event and write it as a JSON line `stories emit --file` reads back."""
    report, bar = EmitReport(), _Bar(progress, "writing", total)
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for name, record in events:
            try:
                schemas.validate(name, record)
            except schemas.EventError as error:
                report.fail(f"{name} {record.get('event_id')}: {error}")
                continue
            write_jsonl_line(out, name, record)
            report.sent += 1
            report.delivered += 1
            if report.sent % 2000 == 0:
                bar.show(report)
    report.seconds = time.perf_counter() - started
    bar.show(report)
    return report


def run_simulation(config: SimulationConfig, console: Console, out: Path | None = None,
                   settings: Settings | None = None) -> EmitReport:
    """Generate the world and its activity; write it to `out`, or send it to the Kafka of
    `settings` (the process's settings when None)."""
    simulation = Simulation(config)
    graph = simulation.graph_count() if config.graph else 0
    total = graph + config.events
    with emit_progress(console) as progress:
        if out is not None:
            return write_file(simulation.events(), out, progress, total)
        with EventProducer.from_settings(settings or get_settings()) as producer:
            return send_paced(simulation.events(), producer, config.rate, graph, progress, total)
