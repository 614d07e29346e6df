"""The worker's own HTTP endpoint: /metrics, /healthz and /readyz on one host and port.

- `/healthz` answers 200 while the process serves: it is alive.
- `/readyz` answers 200 once the worker has joined its consumer group with a completed
  assignment (possibly empty), Redis and the CQL cluster answer, and no store fault holds a
  topic's batches back; 503 with the reasons otherwise.
- `/metrics` is the Prometheus exposition of the process; each scrape runs the readiness check
  first, so `stories_worker_ready` is current even where nothing probes `/readyz`.

The server runs in a daemon thread (wsgiref + prometheus_client), apart from faust's loop.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import faust
from prometheus_client import make_wsgi_app

from core.metrics import CONSUMER_LAG, STORE_FAULT, WORKER_READY

__all__ = [
    "StoreFaults",
    "EngineCheck",
    "Readiness",
    "health_app",
    "serve_health",
    "track_assignment",
    "update_consumer_lag",
]

log = logging.getLogger(__name__)

ENGINE_TIMEOUT = 1.0  # seconds a store has to answer a readiness probe
ENGINE_CACHE = 2.0  # seconds a probe's answer is reused


class StoreFaults:
    """The topics whose batches a store fault holds back right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: set[str] = set()

    def hold(self, topic: str) -> None:
        with self._lock:
            self._topics.add(topic)
        STORE_FAULT.labels(topic).set(1)

    def clear(self, topic: str) -> None:
        with self._lock:
            if topic not in self._topics:
                return
            self._topics.discard(topic)
        STORE_FAULT.labels(topic).set(0)

    def active(self) -> list[str]:
        with self._lock:
            return sorted(self._topics)


class EngineCheck:
    """Cheap probes of the stores (each raising when its store does not answer), cached briefly."""

    def __init__(self, probes: dict[str, Callable[[], object]], cache_seconds: float = ENGINE_CACHE):
        self.probes = probes
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._problems: list[str] = []

    def __call__(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._checked >= self.cache_seconds:
                self._problems = [problem for name, probe in self.probes.items()
                                  if (problem := _probe(name, probe)) is not None]
                self._checked = time.monotonic()
            return list(self._problems)


def _probe(name: str, probe: Callable[[], object]) -> str | None:
    try:
        probe()
    except Exception as error:  # noqa: BLE001 - any failure makes the worker not ready
        return f"{name} unreachable: {error!r}"
    return None


class Readiness:
    """What /readyz reports: the consumer group's assignment, the stores, store faults."""

    def __init__(self, engines: Callable[[], list[str]], faults: StoreFaults):
        self.engines = engines
        self.faults = faults
        self.assigned = False

    def problems(self) -> list[str]:
        found = [] if self.assigned else ["no completed partition assignment yet"]
        if held := self.faults.active():
            found.append(f"store fault holding back: {', '.join(held)}")
        found += self.engines()
        WORKER_READY.set(0 if found else 1)
        return found


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def health_app(readiness: Readiness) -> WsgiApp:
    """The WSGI app serving the three paths."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _text(start_response, "200 OK", "alive\n")
        if path == "/readyz":
            problems = readiness.problems()
            if problems:
                return _text(start_response, "503 Service Unavailable", "\n".join(problems) + "\n")
            return _text(start_response, "200 OK", "ready\n")
        readiness.problems()  # stories_worker_ready as of this scrape, probed or not
        return metrics(environ, start_response)

    return app


def _text(start_response: Callable[..., Any], status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data)))])
    return [data]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would fill the log."""


def serve_health(host: str, port: int, readiness: Readiness) -> WSGIServer:
    """Serve the endpoint in a daemon thread; raises OSError when the port is taken."""
    server = make_server(host, port, health_app(readiness), _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-health", daemon=True).start()
    return server


def track_assignment(app: faust.App, readiness: Readiness) -> None:
    """Ready once a rebalance has completed; not ready while partitions are being revoked."""

    def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        readiness.assigned = True

    def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        readiness.assigned = False
        for tp in args[0] if args else ():
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(tp.topic, str(tp.partition))

    app.on_partitions_assigned.connect(assigned)
    app.on_partitions_revoked.connect(revoked)


async def update_consumer_lag(app: faust.App) -> None:
    """Per assigned partition: the highwater minus the committed offset (or the position)."""
    consumer = app.consumer
    try:
        assignment = consumer.assignment()
    except Exception:  # noqa: BLE001 - not started or rebalancing: the next tick measures
        return
    committed = getattr(consumer, "_committed_offset", {})
    for tp in assignment:
        try:
            high = consumer.highwater(tp)
            done = committed.get(tp)
            if done is None:
                done = await consumer.position(tp)
        except Exception:  # noqa: BLE001 - the partition moved away meanwhile
            continue
        if high is None or done is None:
            continue
        CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - done))
