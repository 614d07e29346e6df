"""The fault scenarios. Each injects real faults into real processes and checks the result
against the log: exact counts, and entry-by-entry equality with a clean replay."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from infra.stack import down as stop_services
from infra.stack import up as start_services
from simulation.traffic import Traffic, make_traffic
from tests.integration.readmodel_helpers import redis_dump
from tests.integration.worker_helpers import PrivateDeployment

__all__ = ["Row", "SCENARIOS", "SECURITY", "Size"]

QUIET = Console(quiet=True)


@dataclass(frozen=True)
class Size:
    """How much traffic and how many faults a run uses."""

    users: int
    stories: int
    views: int
    kills: int

    @property
    def label(self) -> str:
        return f"{self.views} views, {self.stories} stories, {self.users} users"


@dataclass(frozen=True)
class Row:
    """One scenario's outcome, as the report prints it."""

    scenario: str
    load: str
    faults: str
    events_in: int
    reflected: int
    lost: int
    duplicated: int
    leaks: int
    replay_diff: int = 0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaks or self.replay_diff)


def _emit_paced(d: PrivateDeployment, traffic: Traffic, seconds: float) -> threading.Thread:
    """Emit the traffic in chunks spread over `seconds`, in the background."""
    def run() -> None:
        events = traffic.events
        chunk = max(1, len(events) // max(1, int(seconds * 5)))
        for start in range(0, len(events), chunk):
            items = [(i, n, r) for i, (n, r) in enumerate(events[start:start + chunk], start)]
            report = d.runtime.events.emit_many(items)
            if report.failures:
                raise RuntimeError(f"emission failed: {report.failures[:3]}")
            time.sleep(0.2)

    thread = threading.Thread(target=run, name="traffic", daemon=True)
    thread.start()
    return thread


def _count(d: PrivateDeployment, traffic: Traffic) -> tuple[int, int, int]:
    """(reflected, lost, duplicated) of the traffic in the live read models."""
    models = d.runtime.redis_models()
    lost = duplicated = 0
    for story_id in traffic.stories:
        tallies = models.tallies(story_id)
        wanted = traffic.expected
        pairs = [(len(wanted.views[story_id]), tallies.views),
                 (len(wanted.viewers[story_id]), tallies.unique_viewers)]
        reactions = wanted.reaction_counts(story_id)
        for emoji in set(reactions) | set(tallies.reactions):
            pairs.append((reactions.get(emoji, 0), tallies.reactions.get(emoji, 0)))
        lost += sum(max(0, want - got) for want, got in pairs)
        duplicated += sum(max(0, got - want) for want, got in pairs)
        if models.story(story_id) is None:
            lost += 1
    return len(traffic.events) - lost, lost, duplicated


def _replay_diff(d: PrivateDeployment) -> int:
    """Entries that differ between the live read models and a clean replay of the same log."""
    live = d.runtime.version
    before = redis_dump(d.runtime.redis, live.version("stories").redis_prefix)
    result = subprocess.run([sys.executable, "-m", "stories.cli", "replay", "--grace", "0"],
                            env=d.env(), capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"replay failed: {result.stderr[-2000:]}")
    d.runtime.__dict__.pop("version")
    after = redis_dump(d.runtime.redis, d.runtime.version.version("stories").redis_prefix)
    return sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def _settled(d: PrivateDeployment, traffic: Traffic, timeout: float = 300) -> None:
    """Until every event is reflected and the read models stop changing.

    Committed offsets are not a reliable sign here: a commit that failed while the broker was
    away is only retried once the partition moves on.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _count(d, traffic)[1]:
        time.sleep(0.5)
    prefix = d.runtime.version.version("stories").redis_prefix
    previous = None
    while time.monotonic() < deadline:
        current = redis_dump(d.runtime.redis, prefix)
        if current == previous:
            return
        previous = current
        time.sleep(2)


def _finish(d: PrivateDeployment, traffic: Traffic, name: str, size: Size, faults: str,
            compare_replay: bool = True) -> Row:
    if not any(w.poll() is None for w in d.workers):
        d.start_worker()
    _settled(d, traffic)
    reflected, lost, duplicated = _count(d, traffic)
    for worker in d.workers:
        d.stop(worker)
    diff = _replay_diff(d) if compare_replay else 0
    return Row(name, size.label, faults, len(traffic.events), reflected, lost, duplicated, 0, diff)


def worker_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """kill -9 the worker at random points during traffic, restarting it each time."""
    d = PrivateDeployment(settings, work)
    try:
        traffic = make_traffic(seed, size.users, size.stories, size.views)
        d.start_worker()
        sender = _emit_paced(d, traffic, seconds=4 + size.kills * 2)
        rng = random.Random(seed)
        for _ in range(size.kills):
            time.sleep(rng.uniform(1.5, 3.0))
            d.stop(d.workers[-1], signal.SIGKILL)
            d.start_worker()
        sender.join()
        return _finish(d, traffic, "worker kill -9", size, f"{size.kills}× kill -9 + restart")
    finally:
        d.close()


def one_of_two_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Two workers share the partitions; one is killed mid-run and the survivor takes over."""
    d = PrivateDeployment(settings, work)
    try:
        traffic = make_traffic(seed, size.users, size.stories, size.views)
        d.start_worker()
        d.start_worker()
        sender = _emit_paced(d, traffic, seconds=6)
        time.sleep(3)
        d.stop(d.workers[0], signal.SIGKILL)
        sender.join()
        return _finish(d, traffic, "two workers, one killed", size, "1× kill -9, no restart")
    finally:
        d.close()


def redis_wiped(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Redis restarts with its data gone; `stories replay` restores identical read models."""
    d = PrivateDeployment(settings, work)
    try:
        traffic = make_traffic(seed, size.users, size.stories, size.views)
        d.start_worker()
        _emit_paced(d, traffic, seconds=2).join()
        d.wait_idle(timeout=300)
        d.stop(d.workers[0])
        before = redis_dump(d.runtime.redis, d.runtime.version.version("stories").redis_prefix)
        stop_services(settings, QUIET, ["redis"])
        start_services(settings, QUIET, ["redis"])
        wiped = redis_dump(d.runtime.redis, d.runtime.version.version("stories").redis_prefix)
        _replay_diff(d)
        after = redis_dump(d.runtime.redis, d.runtime.version.version("stories").redis_prefix)
        lost = sum(1 for k in before if after.get(k) != before[k])
        diff = sum(1 for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        faults = f"Redis restarted empty ({len(before) - len(wiped)} keys gone), then replay"
        return Row("Redis wiped + replay", size.label, faults, len(traffic.events),
                   len(traffic.events) - lost, lost, 0, 0, diff)
    finally:
        d.close()


def cql_outage(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """The CQL server stops mid-run; the worker backs off, says so, and catches up."""
    d = PrivateDeployment(settings, work)
    port = _free_port()
    d.overrides["worker_metrics_port"] = port
    try:
        traffic = make_traffic(seed, size.users, size.stories, size.views)
        d.start_worker()
        half = len(traffic.events) // 2
        first = Traffic(traffic.events[:half], traffic.stories, traffic.expected)
        _emit_paced(d, first, seconds=1).join()
        d.wait_idle(timeout=300)
        stop_services(settings, QUIET, ["cassandra"])
        rest = Traffic(traffic.events[half:], traffic.stories, traffic.expected)
        _emit_paced(d, rest, seconds=1).join()
        time.sleep(3)
        retries = _metric(port, "stories_store_retries_total")
        start_services(settings, QUIET, ["cassandra"])
        row = _finish(d, traffic, "CQL server stopped", size, "CQL down ~5 s mid-run")
        if retries <= 0 or "backing off" not in d.logs():
            raise RuntimeError("the worker did not report the outage in metrics and logs")
        return replace(row, faults=f"{row.faults}; {retries:.0f} retries reported")
    finally:
        start_services(settings, QUIET, ["cassandra"])
        d.close()


def kafka_restart(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Kafka restarts mid-run; the producer retries without duplicates or losses."""
    d = PrivateDeployment(settings, work)
    try:
        traffic = make_traffic(seed, size.users, size.stories, size.views)
        d.start_worker()
        sender = _emit_paced(d, traffic, seconds=8)
        time.sleep(2)
        stop_services(settings, QUIET, ["kafka"])
        start_services(settings, QUIET, ["kafka"])
        sender.join()
        dupes, missing = _log_census(d, traffic)
        row = _finish(d, traffic, "Kafka restarted", size, "broker restart mid-emission")
        return replace(row, lost=row.lost + missing, duplicated=row.duplicated + dupes)
    finally:
        start_services(settings, QUIET, ["kafka"])
        d.close()


def _log_census(d: PrivateDeployment, traffic: Traffic) -> tuple[int, int]:
    """(duplicated, missing) event ids in the topics compared with what was emitted."""
    from confluent_kafka import Consumer, TopicPartition

    import schemas
    from streams.topics import TOPICS, topic_name

    prefix = d.settings.topic_prefix
    consumer = Consumer({"bootstrap.servers": d.settings.kafka_bootstrap,
                         "group.id": f"{prefix}-census", "enable.auto.commit": False})
    seen: dict[str, int] = {}
    try:
        remaining: dict[tuple[str, int], int] = {}
        for topic in TOPICS:
            name = topic_name(topic, prefix)
            for p in range(topic.partitions):
                low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=30)
                if high > low:
                    remaining[(name, p)] = high
        consumer.assign([TopicPartition(n, p, 0) for n, p in remaining])
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(5000, timeout=1):
                if message.error():
                    continue
                key = (message.topic(), message.partition())
                if message.offset() + 1 >= remaining.get(key, 0):
                    remaining.pop(key, None)
                event_id = schemas.decode(message.value())[1]["event_id"]
                seen[event_id] = seen.get(event_id, 0) + 1
    finally:
        consumer.close()
    emitted = {record["event_id"] for _, record in traffic.events}
    return sum(n - 1 for n in seen.values()), len(emitted - seen.keys())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metric(port: int, name: str) -> float:
    """Sum of a Prometheus counter's samples as the worker exposes it."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return 0.0
    pattern = re.compile(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.M)
    return sum(float(v) for v in pattern.findall(text.decode()))


SCENARIOS: dict[str, Callable[[Settings, Size, Path, int], Row]] = {
    "worker-kill": worker_killed,
    "two-workers": one_of_two_killed,
    "redis-wiped": redis_wiped,
    "cql-outage": cql_outage,
    "kafka-restart": kafka_restart,
}


def gateway_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """kill -9 the gateway while clients post with Idempotency-Keys, then let them retry:
    every post that got a 202 is in the log, and every key appears exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from gateway.cli import issue_token
    from tests.integration.gateway_helpers import GatewayProcess, events_in_log

    d = PrivateDeployment(settings, work)
    gateway = GatewayProcess(d, work / "gateway-0.log", gateway_write_limit=100_000)
    posts = max(20, size.views // 20)
    users = [f"g{seed}-u{i}" for i in range(5)]
    tokens = {u: issue_token(d.settings, u, 3600) for u in users}
    keys = [(users[i % len(users)], f"post-{seed}-{i}") for i in range(posts)]
    accepted: dict[str, set[str]] = {}

    def post(item: tuple[str, str]) -> bool:
        user, key = item
        try:
            answer = httpx.post(f"{gateway.url}/api/v1/stories", timeout=10,
                                json={"kind": "TEXT", "text": f"story {key}"},
                                headers={"Authorization": f"Bearer {tokens[user]}",
                                         "Idempotency-Key": key})
        except httpx.HTTPError:
            return False  # the gateway died under this request: the client retries
        if answer.status_code == 202:
            accepted.setdefault(key, set()).add(answer.json()["story_id"])
            return True
        if answer.status_code in (409, 429, 503):  # in progress or busy: wait as told
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        return False

    def post_until_accepted(item: tuple[str, str]) -> None:
        deadline = time.monotonic() + 90
        while not post(item) and time.monotonic() < deadline:
            pass

    try:
        with ThreadPoolExecutor(8) as pool:
            pending = [pool.submit(post, item) for item in keys]
            deadline = time.monotonic() + 10
            while len(accepted) < posts // 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            gateway.process.kill()
            for future in pending:
                future.result()
        killed_with = len(accepted)
        gateway = GatewayProcess(d, work / "gateway-1.log", gateway_write_limit=100_000)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(post_until_accepted, keys))  # every client retries with the same key
        logged = events_in_log(d.settings, "StoryPosted", lambda r: r["actor_id"] in users)
        # A retry after the gateway died may resend the very same event (same event id): that
        # is one post delivered twice, which every consumer folds once. Two posts are two ids.
        posted: dict[str, set[str]] = {}
        for record in logged:
            posted.setdefault(record["story_id"], set()).add(record["event_id"])
        answered = {story for ids in accepted.values() for story in ids}
        lost = len(answered - posted.keys()) + (posts - len(accepted))
        duplicated = (sum(len(ids) - 1 for ids in accepted.values())
                      + sum(len(ids) - 1 for ids in posted.values())
                      + len(posted.keys() - answered))
        faults = f"gateway kill -9 after {killed_with} of {posts} posts were answered, retried"
        return Row("gateway killed while posting", f"{posts} posts, 8 clients", faults, posts,
                   len(answered & posted.keys()), lost, duplicated, 0)
    finally:
        gateway.stop()
        d.close()


def _pytest_checks(module: str, settings: Settings, work: Path) -> tuple[int, int]:
    """(passed, failed) of one of the project's security test modules, run as it is."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module],
        capture_output=True, text=True, timeout=1800,
        cwd=Path(__file__).resolve().parent.parent,
    )
    passed = re.search(r"(\d+) passed", result.stdout)
    failed = re.search(r"(\d+) failed", result.stdout)
    return int(passed[1]) if passed else 0, int(failed[1]) if failed else 0


def access_matrix(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Every story-scoped endpoint against every kind of caller; a wrong answer is a leak."""
    passed, failed = _pytest_checks("tests/integration/test_gateway_access.py", settings, work)
    return Row("gateway access matrix", f"{passed + failed} endpoint × caller checks",
               "outsiders, excluded users, no/forged/expired/wrong-algorithm tokens",
               passed + failed, passed, 0, 0, failed)


def api_fuzz(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Every endpoint from /openapi.json with malformed and oversized input: no 5xx, no hang."""
    passed, failed = _pytest_checks("tests/integration/test_gateway_fuzz.py", settings, work)
    return Row("API fuzz (schemathesis)", f"{passed + failed} operations",
               "malformed, oversized and random input", passed + failed, passed, 0, 0, failed)


SCENARIOS["gateway-kill"] = gateway_killed
SECURITY: dict[str, Callable[[Settings, Size, Path, int], Row]] = {
    "access-matrix": access_matrix,
    "api-fuzz": api_fuzz,
}
