"""Losing one node of the local cluster under load: a Redis primary, a Kafka broker, a Cassandra
node, one of three workers, each killed with -9.

Traffic flows at a fixed rate through three phases (before, while the node is down, after it
is back); a gateway serves reads all along and a prober counts its errors and its longest
silence. The read models are then accounted for against the log and compared with a replay.
These need the local cluster (`stories up --cluster`) and nothing else using its processes.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console

from core.settings import Settings
from gateway.auth import issue_token
from harness.gateway import GatewayProcess
from infra.stack import up as start_services
from infra.stack.processes import recorded_pid
from infra.stack.redis_cluster import NODES as REDIS_NODES
from infra.stack.redis_cluster import node_client, node_endpoint
from infra.stack.state import service_dirs
from reliability.outcome import Row, Size
from reliability.running import ScenarioRun

__all__ = ["redis_primary_killed", "kafka_broker_killed", "cql_node_killed",
           "one_of_three_workers_killed", "three_workers"]

QUIET = Console(quiet=True)
# The share of the run's seconds before the kill, while the node is down, and after it is back
# (60 s, 30 s and 60 s at full size).
PHASES = (0.4, 0.2, 0.4)
PROBE_INTERVAL_S = 0.05
EXPIRE_AFTER_S = 45.0  # the expiring stories run out while the node is down or just after


@dataclass
class GatewayProbe:
    """Reads through a real gateway in a loop: counts failures and the longest time without a
    good answer."""

    url: str
    tokens: list[str]
    authors: list[str]
    errors: int = 0
    answers: int = 0
    longest_gap_s: float = 0.0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-probe", daemon=True)

    def start(self) -> GatewayProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        rng = random.Random(0)
        last_good = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self._stop.is_set():
                good = self._read(client, rng)
                now = time.monotonic()
                self.answers += 1
                if good:
                    self.longest_gap_s = max(self.longest_gap_s, now - last_good)
                    last_good = now
                else:
                    self.errors += 1
                time.sleep(PROBE_INTERVAL_S)
        self.longest_gap_s = max(self.longest_gap_s, time.monotonic() - last_good)

    def _read(self, client: httpx.Client, rng: random.Random) -> bool:
        """A tray read or a story-list read, as a random user."""
        headers = {"Authorization": f"Bearer {rng.choice(self.tokens)}"}
        path = ("/api/v1/stories/tray" if rng.random() < 0.5
                else f"/api/v1/users/{rng.choice(self.authors)}/stories")
        try:
            return client.get(path, headers=headers).status_code == 200
        except httpx.HTTPError:
            return False


def _kill(settings: Settings, service: str) -> None:
    """kill -9 a process of the stack, as a crash would."""
    pid = recorded_pid(service_dirs(settings, service))
    if pid is None:
        raise RuntimeError(f"{service} is not running: start the local cluster first")
    os.kill(pid, signal.SIGKILL)


def _restart(settings: Settings, service: str) -> None:
    start_services(settings, QUIET, [service])


def _redis_primary(settings: Settings) -> str:
    """The service name of a Redis node that is a primary serving slots right now."""
    client = node_client(settings, 1)
    try:
        nodes = client.cluster("nodes")
    finally:
        client.close()
    ports = sorted(int(address.split("@")[0].rsplit(":", 1)[1]) for address, node in nodes.items()
                   if "master" in node["flags"] and node["slots"] and "fail" not in node["flags"])
    seed_port = node_endpoint(settings, 1)[1]
    # Not the seed: clients find the cluster through it, and losing it is a different test.
    chosen = next((p for p in ports if p != seed_port), ports[0])
    number = chosen - seed_port + 1
    if not 1 <= number <= REDIS_NODES:
        raise RuntimeError(f"the primary on port {chosen} is not a node of the local cluster")
    return f"redis-{number}"


class NodeLoss:
    """One run: traffic in three phases, a node killed between the first two, back before the
    third; the gateway probed throughout."""

    def __init__(self, settings: Settings, size: Size, work: Path, seed: int, workers: int = 1):
        self.settings = settings
        self.run = ScenarioRun(settings, size, work, seed, expire_after=EXPIRE_AFTER_S)
        self.seconds = size.seconds or 150.0
        self.workers = workers

    def __call__(self, scenario: str, kill: Callable[[], str], restore: Callable[[str], object],
                 ) -> Row:
        with self.run as run:
            d = run.deployment
            for _ in range(self.workers):
                d.start_worker()
            gateway = GatewayProcess(d)
            probe = self._probe(gateway).start()
            try:
                victim = self._phases(kill, restore)
            finally:
                probe.stop()
                gateway.stop()
            row = run.finish(scenario, f"kill -9 {victim} for {self.seconds * PHASES[1]:.0f} s, "
                                       f"then restarted")
            return replace(row, gateway_errors=probe.errors, longest_gap_s=probe.longest_gap_s,
                           gateway_reads=probe.answers)

    def _probe(self, gateway: GatewayProcess) -> GatewayProbe:
        traffic = self.run.traffic
        people = sorted({record["actor_id"] for _, record in traffic.events})[:50]
        tokens = [issue_token(self.run.deployment.settings, person, 3600) for person in people]
        return GatewayProbe(gateway.url, tokens, sorted(set(traffic.active.values()))[:50] or people)

    def _phases(self, kill: Callable[[], str], restore: Callable[[str], object]) -> str:
        """Send each phase's share of the traffic over its share of the time."""
        events = len(self.run.traffic.events)
        bounds = [0, int(events * PHASES[0]), int(events * (PHASES[0] + PHASES[1])), events]
        durations = [self.seconds * share for share in PHASES]
        self.run.send(durations[0], self.run.traffic.part(bounds[0], bounds[1])).result()
        victim = kill()
        try:
            self.run.send(durations[1], self.run.traffic.part(bounds[1], bounds[2])).result()
        finally:
            restore(victim)
        self.run.send(durations[2], self.run.traffic.part(bounds[2], bounds[3])).result()
        return victim


def _service_loss(settings: Settings, size: Size, work: Path, seed: int, scenario: str,
                  choose: Callable[[Settings], str]) -> Row:
    def kill() -> str:
        victim = choose(settings)
        _kill(settings, victim)
        return victim

    return NodeLoss(settings, size, work, seed)(scenario, kill, lambda v: _restart(settings, v))


def redis_primary_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """A Redis primary dies; its replica takes over; the worker's writes waited for it."""
    return _service_loss(settings, size, work, seed, "Redis primary killed", _redis_primary)


def kafka_broker_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """A Kafka broker dies; leadership moves to the in-sync replicas (2 of 3 remain)."""
    return _service_loss(settings, size, work, seed, "Kafka broker killed", lambda s: "kafka-2")


def cql_node_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """A Cassandra node dies; LOCAL_QUORUM (2 of 3) still answers every read and write."""
    return _service_loss(settings, size, work, seed, "Cassandra node killed", lambda s: "cassandra-3")


def one_of_three_workers_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Three workers share the partitions; one dies, the others take its partitions, and it
    comes back."""
    loss = NodeLoss(settings, size, work, seed, workers=3)
    deployment = loss.run.deployment

    def kill() -> str:
        deployment.stop(deployment.workers[1], signal.SIGKILL)
        return "worker 2 of 3"

    return loss("one of three workers killed", kill, lambda _: deployment.start_worker())


def three_workers(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Three workers in one group, no fault: their read models equal one replaying process's."""
    loss = NodeLoss(settings, size, work, seed, workers=3)
    row = loss("three workers, no fault", lambda: "nothing", lambda _: None)
    return replace(row, faults="none: three workers against one replay")
