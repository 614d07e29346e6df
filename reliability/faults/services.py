"""The services under the worker fail: Redis restarts empty, the CQL server stops, Kafka restarts.

These stop and start the local stack's own processes (`infra.stack`), so they need a stack of
their own: nothing else may be using it while they run.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from harness.processes import free_port
from harness.readmodels import differing
from harness.waiting import wait_until
from infra.stack import down as stop_services
from infra.stack import up as start_services
from reliability.accounting import expired_by_timer, log_census, wait_settled
from reliability.outcome import Row, Size
from reliability.running import ScenarioRun
from streams.producer import EventProducer

__all__ = ["redis_wiped", "cql_outage", "kafka_restart"]

QUIET = Console(quiet=True)


RESTART_PATIENCE_MS = 180_000  # how long the Kafka restart scenario's producer keeps an event

def _restart(settings: Settings, service: str) -> None:
    stop_services(settings, QUIET, [service])
    start_services(settings, QUIET, [service])


def _wiped_then_replayed(run: ScenarioRun, settings: Settings) -> tuple[dict, int, dict]:
    """The read models before Redis restarted empty, how many entries went, and after replay."""
    d = run.deployment
    d.stop(d.workers[0])
    before = d.read_models()
    _restart(settings, "redis")
    wiped = len(before) - len(d.read_models())
    d.replay()
    return before, wiped, d.read_models()


def redis_wiped(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Redis restarts with its data gone; `stories replay` restores identical read models."""
    with ScenarioRun(settings, size, work, seed) as run:
        d = run.deployment
        d.start_worker()
        run.send(seconds=2).result()
        wait_settled(d, run.traffic)
        d.wait_idle(timeout=300)
        before, wiped, after = _wiped_then_replayed(run, settings)
        lost = sum(1 for key in before if after.get(key) != before[key])
        events = len(run.traffic.events)
        load = run.traffic.label(expired_by_timer(d.settings, run.traffic))
        return Row("Redis wiped + replay", load,
                   f"Redis restarted empty ({wiped} entries gone), then replay", events,
                   events - lost, lost, 0, 0, len(differing(before, after)))


def _metric(port: int, name: str) -> float:
    """Sum of a Prometheus counter's samples as the worker exposes it."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return 0.0
    pattern = re.compile(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.M)
    return sum(float(v) for v in pattern.findall(text.decode()))


def _outage_reported(port: int, logs: str) -> bool:
    """The worker counted a store retry and logged its back-off."""
    return _metric(port, "stories_store_retries_total") > 0 and "backing off" in logs


def cql_outage(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """The CQL server stops mid-run; the worker backs off, says so, and catches up."""
    port = free_port()
    with ScenarioRun(settings, size, work, seed, worker_metrics_port=port) as run:
        d, half = run.deployment, len(run.traffic.events) // 2
        d.start_worker()
        run.send(1, run.traffic.part(0, half)).result()
        d.wait_idle(timeout=300)
        try:
            stop_services(settings, QUIET, ["cassandra"])
            run.send(1, run.traffic.part(half)).result()
            # The outage lasts until the worker has said so: on a busy machine its first
            # failed write can come some seconds after the server went away.
            try:
                wait_until(lambda: _outage_reported(port, d.logs()),
                           "the worker to report the CQL outage in metrics and logs", 60, 0.5)
            except TimeoutError as missing:
                raise RuntimeError(str(missing)) from None
            retries = _metric(port, "stories_store_retries_total")
        finally:
            start_services(settings, QUIET, ["cassandra"])
        row = run.finish("CQL server stopped", "CQL down until the worker reports it")
        return replace(row, faults=f"{row.faults}; {retries:.0f} retries reported")


def kafka_restart(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Kafka restarts mid-run; the producer retries without duplicates or losses."""
    # The restart and the worker's return take a while: expiries fall after them.
    with ScenarioRun(settings, size, work, seed, expire_after=60) as run:
        run.deployment.start_worker()
        # A producer that keeps each event for as long as a restart can take on a busy machine
        # (the default gives up after 30 s and reports the event, which is not what is tested).
        patient = EventProducer.from_settings(run.deployment.settings,
                                              **{"message.timeout.ms": RESTART_PATIENCE_MS})
        sending = run.send(seconds=8, producer=patient)
        time.sleep(2)
        try:
            _restart(settings, "kafka")
        finally:
            start_services(settings, QUIET, ["kafka"])
        sending.result()
        patient.close()
        dupes, missing = log_census(run.deployment.settings, run.traffic)
        row = run.finish("Kafka restarted", "broker restart mid-emission")
        return replace(row, lost=row.lost + missing, duplicated=row.duplicated + dupes)
