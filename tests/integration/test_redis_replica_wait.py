"""A flush that waits for replicas (STORIES_REDIS_WAIT_REPLICAS) returns only once a replica of
every primary it wrote to holds its writes: on a primary with a replica of the test's own, and
on the local Redis Cluster. A replica that is attached but silent makes the flush a store
fault; a primary without a replica takes the flush and counts it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rich.console import Console

from core.clients import is_cluster, redis_client, redis_clustered
from core.errors import ReplicasBehind, is_store_fault
from core.metrics import REDIS_UNREPLICATED
from core.settings import Settings, cluster_settings
from harness.processes import free_port
from infra.stack.redis import redis_server
from infra.stack.redis_cluster import node_client, node_endpoint
from projections.model import Story
from projections.stores.redis_batch import RedisBatch
from projections.stores.redis_replicas import ReplicaWait
from projections.stores.redis_store import RedisReadModels

SECRET = b"replica-secret"
DAY_MS = 86_400_000


def _start(binary: str, port: int, workdir: Path, *extra: str) -> subprocess.Popen:
    workdir.mkdir(exist_ok=True)
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _until(check, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except redis.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def _attached(primary: redis.Redis) -> int:
    return int(primary.info("replication")["connected_slaves"])


class Pair:
    """A primary and its replica, both redis-server processes of the test's own."""

    def __init__(self, workdir: Path):
        self.binary = redis_server(Console(stderr=True))
        self.workdir = workdir
        primary_port, replica_port = free_port(), free_port()
        self.primary_process = _start(self.binary, primary_port, workdir / "primary")
        self.primary, self.replica = redis.Redis(port=primary_port), redis.Redis(port=replica_port)
        self.replica_process = self.primary_process  # until the replica is up
        try:
            self.start_replica()
        except BaseException:
            self.close()
            raise

    def start_replica(self) -> subprocess.Popen:
        """The replica, in sync and attached when this returns."""
        primary_port = self.primary.connection_pool.connection_kwargs["port"]
        replica_port = self.replica.connection_pool.connection_kwargs["port"]
        self.replica_process = _start(self.binary, replica_port, self.workdir / "replica",
                                      "--replicaof", "127.0.0.1", str(primary_port))
        _until(lambda: self.replica.info("replication")["master_link_status"] == "up",
               "the replica in sync")
        _until(lambda: _attached(self.primary) == 1, "the replica attached")
        return self.replica_process

    def close(self) -> None:
        for process in (self.replica_process, self.primary_process):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
                process.wait(10)
        self.primary.close()
        self.replica.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    started = Pair(tmp_path)
    yield started
    started.close()


def _writes(batch: RedisBatch, tag: str) -> None:
    """A little of every projection: a story, a tray, follows, views, a reaction."""
    now = int(time.time() * 1000)
    for n in range(20):
        story = Story(f"{tag}-story-{n}", f"{tag}-author-{n}", now, now + DAY_MS, "TEXT",
                      text="hello")
        batch.put_story(story, now + 2 * DAY_MS, partition=0)
        batch.follow(f"{tag}-fan-{n}", story.author_id)
        batch.view(story.story_id, f"{tag}-fan-{n}", f"{tag}-view-{n}", now, now + 2 * DAY_MS)
        batch.mark_seen(f"{tag}-fan-{n}", story.story_id)
        batch.react(story.story_id, f"{tag}-fan-{n}", now, "🔥", now + 2 * DAY_MS)


def _keys(client: redis.Redis, prefix: str) -> set[str]:
    return {key.decode() if isinstance(key, bytes) else key
            for key in client.scan_iter(match=f"{prefix}*", count=1000)}


def _models(client: redis.Redis, prefix: str, timeout_ms: int = 5000) -> RedisReadModels:
    return RedisReadModels(client, prefix, SECRET, ReplicaWait(1, timeout_ms))


def test_a_flush_returns_only_once_the_replica_holds_its_writes(pair: Pair):
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    batch = _models(pair.primary, prefix).batch()
    _writes(batch, "a")
    os.kill(pair.replica_process.pid, signal.SIGSTOP)  # attached, but it acknowledges nothing
    flush = threading.Thread(target=batch.flush)
    flush.start()
    time.sleep(0.5)
    assert flush.is_alive(), "the flush returned before the replica had its writes"
    os.kill(pair.replica_process.pid, signal.SIGCONT)
    flush.join(10)
    assert not flush.is_alive()
    written = _keys(pair.primary, prefix)
    assert len(written) > 100
    assert _keys(pair.replica, prefix) == written
    assert not any(":fence:" in key for key in written)  # a single node needs no fence


def test_a_replica_that_does_not_acknowledge_in_time_is_a_store_fault(pair: Pair):
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    models = _models(pair.primary, prefix, timeout_ms=200)
    batch = models.batch()
    _writes(batch, "b")
    os.kill(pair.replica_process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(ReplicasBehind) as raised:
            batch.flush()
    finally:
        os.kill(pair.replica_process.pid, signal.SIGCONT)
    assert is_store_fault(raised.value)  # held and retried by the worker, never dead-lettered
    again = models.batch()  # the retry: the same writes once more, idempotent
    _writes(again, "b")
    again.flush()
    assert _keys(pair.replica, prefix) == _keys(pair.primary, prefix)


def test_a_primary_without_its_replica_takes_the_flush_and_counts_it(pair: Pair, caplog):
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    models = _models(pair.primary, prefix, timeout_ms=1000)
    pair.replica_process.kill()
    pair.replica_process.wait(10)
    _until(lambda: _attached(pair.primary) == 0, "the replica detached")
    before = REDIS_UNREPLICATED._value.get()
    with caplog.at_level(logging.WARNING, logger="projections.stores.redis_replicas"):
        for tag in ("c", "d", "e"):
            batch = models.batch()
            _writes(batch, tag)
            began = time.perf_counter()
            batch.flush()
            seconds = time.perf_counter() - began
    assert REDIS_UNREPLICATED._value.get() == before + 3
    assert seconds < 0.5, "each flush waited for a replica that is not there"
    assert len(caplog.records) == 1
    assert "0 replicas attached, 1 asked" in caplog.records[0].getMessage()
    assert models.follows("e-fan-3", "e-author-3")


def test_once_the_replica_is_back_flushes_wait_for_it_again(pair: Pair):
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    models = _models(pair.primary, prefix, timeout_ms=1000)
    pair.replica_process.kill()
    pair.replica_process.wait(10)
    _until(lambda: _attached(pair.primary) == 0, "the replica detached")
    batch = models.batch()
    _writes(batch, "g")
    batch.flush()  # taken and counted, nothing waited for
    pair.start_replica()
    os.kill(pair.replica_process.pid, signal.SIGSTOP)
    try:
        with pytest.raises(ReplicasBehind):  # no flush outruns a replica attached again
            for tag in ("h", "i"):  # the first may still go by what the last one found
                batch = models.batch()
                _writes(batch, tag)
                batch.flush()
    finally:
        os.kill(pair.replica_process.pid, signal.SIGCONT)


@pytest.fixture
def cluster(local_stack: Settings) -> Iterator[redis.Redis]:
    """The local Redis Cluster (`stories up --cluster`): three primaries with a replica each.
    Only there do primaries have replicas: `make test-cluster` runs this, `make test` cannot."""
    if not redis_clustered(local_stack):
        pytest.skip("needs the local cluster's replicas: make test-cluster runs it")
    settings = cluster_settings()
    client = redis_client(settings)
    assert is_cluster(client)
    assert settings.redis_wait_replicas == 1
    yield client
    client.close()


def _readonly(host: str, port: int) -> redis.Redis:
    """A connection to a cluster replica that serves reads (READONLY)."""
    settings = cluster_settings()
    replica = node_client(settings, port - node_endpoint(settings, 1)[1] + 1)
    replica.execute_command("READONLY")
    return replica


def test_on_the_cluster_every_primary_written_to_has_its_replica_hold_the_writes(cluster):
    prefix = f"w{uuid.uuid4().hex[:8]}:"
    models = RedisReadModels(cluster, prefix, SECRET, ReplicaWait.from_settings(cluster_settings()))
    batch = models.batch()
    _writes(batch, "f")
    replicas = [_readonly(node.host, node.port) for node in cluster.get_replicas()]
    by_primary: dict[str, set[bytes]] = {}
    try:
        batch.flush()
        on_replicas = set().union(*(_keys(replica, prefix) for replica in replicas))
        by_primary = {node.name: _keys(cluster.get_redis_connection(node), prefix)
                      for node in cluster.get_primaries()}
        assert len(by_primary) == 3 and all(by_primary.values())
        assert on_replicas == set().union(*by_primary.values())
        fences = {name: [k for k in keys if ":fence:" in k] for name, keys in by_primary.items()}
        assert all(len(found) == 1 for found in fences.values()), fences
    finally:
        for keys in by_primary.values():
            for key in keys:
                cluster.delete(key)
        for replica in replicas:
            replica.close()
