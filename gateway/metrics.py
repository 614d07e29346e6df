"""Prometheus metrics of the gateway: requests by route template and status, dependency errors,
and the registry `/metrics` serves.

The gateway serves its own metrics only, never the worker's definitions it imports
(`core.metrics`): a gateway must not answer for `stories_worker_ready`. With several gateway
processes (`STORIES_GATEWAY_WORKERS`), `stories gateway` runs them in prometheus_client's
multiprocess mode: each process writes its samples into one directory made for the run, and
any scrape adds up every process's (`multiprocess_registry`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

__all__ = ["REGISTRY", "REQUESTS", "REQUEST_SECONDS", "DEPENDENCY_ERRORS", "EVENTS_EMITTED",
           "PREFIX", "MULTIPROCESS_DIR_VARIABLE", "observe_request", "multiprocess_registry",
           "process_ended", "serving_metrics", "MetricsPortTaken"]

PREFIX = "stories_gateway_"
# prometheus_client's own variable: set before it is imported, a process writes its samples there.
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# One process's metrics: the gateway's and the process's own (memory, CPU, file descriptors, GC).
REGISTRY = CollectorRegistry()
REGISTRY.register(PROCESS_COLLECTOR)
REGISTRY.register(PLATFORM_COLLECTOR)
REGISTRY.register(GC_COLLECTOR)

REQUESTS = Counter(
    "stories_gateway_requests_total", "HTTP requests answered", ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "stories_gateway_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DEPENDENCY_ERRORS = Counter(
    "stories_gateway_dependency_errors_total",
    "Requests that failed because a service behind the gateway was away",
    ["dependency"],
    registry=REGISTRY,
)
EVENTS_EMITTED = Counter(
    "stories_gateway_events_emitted_total", "Events acknowledged by the log", ["event"],
    registry=REGISTRY,
)

_METRICS = (REQUESTS, REQUEST_SECONDS, DEPENDENCY_ERRORS, EVENTS_EMITTED)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered HTTP request (gateway.access calls it for each)."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


class _GatewayFamilies(Collector):
    """The gateway's families of a multiprocess directory, each one declared even before any
    process has a sample of it, as a registry of one process does (the files hold samples
    only); the processes write the worker's definitions there too, which are not theirs."""

    def __init__(self, directory: Path):
        self._files = MultiProcessCollector(None, path=str(directory))

    def collect(self) -> Iterable[Metric]:
        found = {family.name: family for family in self._files.collect()
                 if family.name.startswith(PREFIX)}
        declared = [family for metric in _METRICS for family in metric.describe()]
        return [found.pop(family.name, family) for family in declared] + list(found.values())


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """Every gateway process's metrics, added up from their files in `directory`. The process
    collectors have no place there: N processes' memory or CPU do not add up."""
    registry = CollectorRegistry()
    registry.register(_GatewayFamilies(directory))
    return registry


def process_ended(directory: Path) -> None:
    """A gateway process that stops drops its live gauges from the shared directory (counters
    and histograms stay: the totals must not fall when a process is replaced)."""
    mark_process_dead(os.getpid(), str(directory))


class MetricsPortTaken(RuntimeError):
    """The metrics port cannot be bound: the gateway does not start without it."""


@contextmanager
def serving_metrics(host: str, port: int | None, registry: CollectorRegistry) -> Iterator[None]:
    """`registry` on http://host:port/metrics while the block runs (no port: nothing served)."""
    if port is None:
        yield
        return
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise MetricsPortTaken(f"STORIES_GATEWAY_METRICS_PORT: cannot serve on {host}:{port}: "
                               f"{error}") from None
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
