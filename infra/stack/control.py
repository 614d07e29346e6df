"""Up, down and status of the whole stack: every service at once, one thread each.

The stack is what the settings describe: one node of each engine by default, or a cluster of
an engine whose settings name several nodes (infra/cluster.env: three Kafka brokers, three
Cassandra nodes, six Redis nodes). A service waits for those it comes after.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from tenacity import Retrying, stop_after_delay, stop_any, wait_fixed
from tenacity.stop import stop_base

from core.settings import Settings
from infra.stack import cassandra, kafka, redis, redis_cluster, s3
from infra.stack.processes import alive, port_open, recorded_pid, spawn, terminate
from infra.stack.service import Service, ServiceStatus, StackError, one_line
from infra.stack.state import exclusive, log_tail, service_dirs

__all__ = ["SERVICES", "SERVICE_NAMES", "services_of", "up", "down", "status"]

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 0.5
# Something already listening that `up` did not start gets a grace period, not a full start-up.
EXTERNAL_GRACE_S = 15.0

# The single-node stack. Cassandra first: the slowest to start, so its thread is the first to launch.
SERVICES: tuple[Service, ...] = (cassandra.SERVICE, kafka.SERVICE, s3.SERVICE, redis.SERVICE,
                                 redis.CLUSTER_SERVICE)
SERVICE_NAMES = tuple(service.name for service in SERVICES)


def services_of(settings: Settings) -> tuple[Service, ...]:
    """The services these settings describe, Cassandra's first."""
    from core.clients import redis_clustered

    redis_services = (redis_cluster.services(settings) if redis_clustered(settings)
                      else [redis.SERVICE, redis.CLUSTER_SERVICE])
    return (*cassandra.services(settings), *kafka.services(settings), s3.SERVICE, *redis_services)


class _ProbeTimeout(Exception):
    def __init__(self, last_error: BaseException, process_died: bool) -> None:
        super().__init__(one_line(last_error))
        self.process_died = process_died


def _chosen(settings: Settings, names: Sequence[str] | None) -> list[Service]:
    """The services named (all when None), refusing unknown names."""
    described = services_of(settings)
    if not names:
        return list(described)
    known = [service.name for service in described]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown service {', '.join(unknown)}; choose from {', '.join(known)}")
    return [service for service in described if service.name in names]


def up(settings: Settings, console: Console, services: Sequence[str] | None = None) -> None:
    """Start every service (or those named) not running yet, in parallel; return once each
    passes its probe.

    A service already answering on its port is left alone. Raises StackError (with the tail of
    the service's log) when a service cannot be started or does not become ready in time.
    """
    began = time.monotonic()
    chosen = _chosen(settings, services)
    order = _StartOrder({service.name for service in chosen})
    with exclusive(settings), ThreadPoolExecutor(len(chosen), "stack-up") as pool:
        futures = [pool.submit(order.start, service, settings, console) for service in chosen]
    errors = [error for future in futures if (error := future.exception()) is not None]
    for error in errors:
        if not isinstance(error, StackError):
            raise error
    if errors:
        failed = [error for error in errors if isinstance(error, StackError)]
        for error in failed:
            console.print(f"[red]✗[/red] {error.service}: {escape(error.reason)}")
        if len(failed) == 1:
            raise failed[0]
        names = ", ".join(error.service for error in failed)
        raise StackError(names, "\n\n".join(str(error) for error in failed))
    console.print(f"local stack ready in {time.monotonic() - began:.1f} s")


def down(settings: Settings, console: Console, services: Sequence[str] | None = None) -> None:
    """Stop the processes that `up` started (all, or those named), and only those: SIGTERM,
    then SIGKILL if need be."""
    chosen = [service for service in _chosen(settings, services) if service.command is not None]
    with exclusive(settings), ThreadPoolExecutor(len(chosen), "stack-down") as pool:
        futures = [pool.submit(_stop, service, settings, console) for service in chosen]
    for future in futures:
        future.result()


def status(settings: Settings) -> list[ServiceStatus]:
    """Each service's address, whether something runs there, and whether it passes its probe."""
    described = services_of(settings)
    with ThreadPoolExecutor(len(described), thread_name_prefix="stack-status") as pool:
        return list(pool.map(lambda service: _status_of(service, settings), described))


class _StartOrder:
    """Starts each service once those it comes after (among the ones being started) are ready."""

    def __init__(self, starting: set[str]) -> None:
        self._done = {name: threading.Event() for name in starting}
        self._failed: set[str] = set()

    def start(self, service: Service, settings: Settings, console: Console) -> None:
        for name in service.after:
            if name in self._done:
                self._done[name].wait()
            if name in self._failed:
                self._failed.add(service.name)
                self._done[service.name].set()
                raise StackError(service.name, f"not started: {name} did not start")
        try:
            _ensure_running(service, settings, console)
        except BaseException:
            self._failed.add(service.name)
            raise
        finally:
            self._done[service.name].set()


def _ensure_running(service: Service, settings: Settings, console: Console) -> None:
    dirs = service_dirs(settings, service.name)
    host, port = service.endpoint(settings)
    address = f"{host}:{port}"
    began = time.monotonic()
    pid = recorded_pid(dirs)
    if service.command is None:
        _form(service, settings, console, address)
        return
    if pid is None and port_open(host, port):
        _adopt_external(service, settings, console, address)
        return
    if pid is None:
        dirs.create()
        argv = service.command(settings, dirs, console)
        if port_open(host, port):  # e.g. installing Redis just started the distribution's own
            _adopt_external(service, settings, console, address)
            return
        pid = spawn(argv, dirs)
        log.info("%s: started pid %d", service.name, pid)
        log.debug("%s: command line: %s", service.name, " ".join(argv))
        how = "started"
    else:
        how = "already running"
    try:
        detail = _wait_until_ready(service, settings, pid, service.start_timeout_s)
    except _ProbeTimeout as error:
        reason = (
            "exited during start-up"
            if error.process_died
            else f"not ready after {service.start_timeout_s:.0f} s"
        )
        message = f"{reason} (pid {pid}, last probe error: {error})"
        raise StackError(service.name, message, log_tail(dirs, service.log_name)) from None
    elapsed = time.monotonic() - began
    console.print(
        f"[green]✓[/green] {service.name:<9} {address:<15} {how}, ready in {elapsed:.1f} s,"
        f" pid {pid} ({escape(detail)})"
    )


def _form(service: Service, settings: Settings, console: Console, address: str) -> None:
    """A step with no process of its own: its probe does the work, until it passes."""
    began = time.monotonic()
    try:
        detail = _wait_until_ready(service, settings, None, service.start_timeout_s)
    except _ProbeTimeout as error:
        raise StackError(service.name, f"not ready after {service.start_timeout_s:.0f} s "
                                       f"(last probe error: {error})") from None
    console.print(f"[green]✓[/green] {service.name:<9} {address:<15} ready in "
                  f"{time.monotonic() - began:.1f} s ({escape(detail)})")


def _adopt_external(service: Service, settings: Settings, console: Console, address: str) -> None:
    try:
        detail = _wait_until_ready(service, settings, None, EXTERNAL_GRACE_S)
    except _ProbeTimeout as error:
        message = (
            f"{address} is taken by a process `up` did not start, and it does not answer as "
            f"{service.name} (last probe error: {error})"
        )
        raise StackError(service.name, message) from None
    console.print(
        f"[green]✓[/green] {service.name:<9} {address:<15} answering, not ours: left alone ({escape(detail)})"
    )


def _wait_until_ready(service: Service, settings: Settings, pid: int | None, timeout_s: float) -> str:
    """Poll the probe until it passes; give up at the deadline, or as soon as the process dies."""

    process_died = _ProcessDied(pid)
    retrying = Retrying(
        stop=stop_any(stop_after_delay(timeout_s), process_died),
        wait=wait_fixed(PROBE_INTERVAL_S),
        reraise=True,
    )
    try:
        return retrying(_probe, service, settings)
    except Exception as error:  # any probe failure: the service is not ready
        raise _ProbeTimeout(error, process_died(None)) from error


@dataclass(frozen=True)
class _ProcessDied(stop_base):
    """Stops the polling as soon as the process `up` started has exited: it will not get ready."""

    pid: int | None

    def __call__(self, retry_state: object) -> bool:
        return self.pid is not None and not alive(self.pid)


def _probe(service: Service, settings: Settings) -> str:
    """The service's probe, skipped while its port is closed: clients log every refusal loudly."""
    host, port = service.endpoint(settings)
    if not port_open(host, port):
        raise ConnectionRefusedError(f"nothing listens on {host}:{port} yet")
    return service.probe(settings)


def _stop(service: Service, settings: Settings, console: Console) -> None:
    dirs = service_dirs(settings, service.name)
    pid = recorded_pid(dirs)
    if pid is None:
        dirs.pid_file.unlink(missing_ok=True)  # stale: its process is gone
        host, port = service.endpoint(settings)
        note = "left alone (not started by `up`)" if port_open(host, port) else "not running"
        console.print(f"  {service.name:<9} {note}")
        return
    began = time.monotonic()
    killed = terminate(pid)
    dirs.pid_file.unlink(missing_ok=True)
    how = "killed after the SIGTERM timeout" if killed else "stopped"
    console.print(f"  {service.name:<9} {how} (pid {pid}, {time.monotonic() - began:.1f} s)")


def _status_of(service: Service, settings: Settings) -> ServiceStatus:
    dirs = service_dirs(settings, service.name)
    host, port = service.endpoint(settings)
    pid = None if service.command is None else recorded_pid(dirs)
    running = pid is not None or port_open(host, port)
    healthy, detail = False, "not running"
    if running:
        try:
            detail, healthy = _probe(service, settings), True
        except Exception as error:  # any probe failure: running but not healthy
            detail = one_line(error)
    if running and pid is None and service.command is not None:
        detail = f"not started by `up`; {detail}"
    return ServiceStatus(service.name, f"{host}:{port}", running, healthy, pid, detail)
