"""A private deployment for one benchmark run: its own topics, keyspace, Redis prefix, processes.

Nothing a benchmark writes is visible to anything else on the stack, and closing it removes
every key, keyspace and topic it created.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from core.settings import Settings
from projections.runtime import Runtime
from streams.admin import all_topics, ensure_topics, group_lag
from streams.topics import TOPICS, topic_name

__all__ = ["BenchDeployment", "wait_until", "resident_bytes", "settings_env", "cpu_seconds",
           "service_pids", "process_tree"]


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 120,
               interval: float = 0.05) -> float:
    """Poll until true; returns the seconds it took."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if predicate():
            return time.perf_counter() - began
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build exactly these settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"STORIES_{name.upper()}"] = str(value)
    return env


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (None once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (a supervised worker runs in a child)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def resident_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants (RSS pages)."""
    pages = 0
    for member in process_tree(pid):
        fields = _stat(member)
        pages += int(fields[21]) if fields else 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU used so far by a process and its descendants."""
    ticks = 0
    for member in process_tree(pid):
        fields = _stat(member)
        ticks += int(fields[11]) + int(fields[12]) if fields else 0
    return ticks / os.sysconf("SC_CLK_TCK")


def service_pids(settings: Settings) -> dict[str, int]:
    """Processes of the local stack, from the pid files `stories up` keeps (none if remote)."""
    pids = {}
    for service in ("kafka", "cassandra", "redis"):
        path = settings.state_dir / service / f"{service}.pid"
        try:
            pids[service] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return pids


class BenchDeployment:
    """Topics, keyspace and Redis prefix of its own, and the processes run against them."""

    def __init__(self, settings: Settings, workdir: Path, **overrides: Any):
        self.name = f"bench{uuid.uuid4().hex[:8]}"
        self.overrides = {"topic_prefix": self.name, "cql_keyspace": self.name,
                          "worker_metrics_port": 0, **overrides}
        self.settings = settings.model_copy(update=self.overrides)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        ensure_topics(self.settings.kafka_bootstrap, self.name)
        self.runtime = Runtime(self.settings)
        self.runtime.version  # noqa: B018 - creates and migrates the keyspace before any worker
        self.processes: list[subprocess.Popen] = []
        self.scratch: list[Runtime] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **settings_env(self.settings), **extra}

    def spawn(self, label: str, argv: list[str], **extra_env: str) -> subprocess.Popen:
        """A child process against this deployment, its output in the work folder."""
        log = (self.workdir / f"{label}.log").open("ab")
        process = subprocess.Popen(argv, env=self.env(**extra_env), stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.workdir)
        self.processes.append(process)
        return process

    def start_worker(self, **extra_env: str) -> subprocess.Popen:
        return self.spawn(f"worker-{len(self.processes)}",
                          [sys.executable, "-m", "stories.cli", "worker"], **extra_env)

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def log_tail(self, label: str, size: int = 3000) -> str:
        path = self.workdir / f"{label}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def scratch_runtime(self, suffix: str) -> Runtime:
        """Another keyspace and prefix beside the deployment's, for bare writers."""
        settings = self.settings.model_copy(update={"cql_keyspace": f"{self.name}{suffix}"})
        runtime = Runtime(settings)
        runtime.version  # noqa: B018 - created and migrated now, outside any timing
        self.scratch.append(runtime)
        return runtime

    def lag(self) -> int:
        """Events the worker group has not committed yet, over every input topic."""
        return group_lag(self.settings.kafka_bootstrap, f"{self.name}-worker", TOPICS, self.name)

    def produced(self) -> int:
        """Events in the deployment's input topics so far."""
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                             "group.id": f"{self.name}-probe"})
        try:
            return sum(consumer.get_watermark_offsets(
                TopicPartition(topic_name(t, self.name), p), timeout=10)[1]
                for t in TOPICS for p in range(t.partitions))
        finally:
            consumer.close()

    def wait_idle(self, timeout: float = 600) -> float:
        """Until the workers have committed everything produced so far."""
        return wait_until(lambda: self.lag() == 0, "the worker to commit every event", timeout,
                          interval=0.5)

    def close(self) -> None:
        """Stop the processes, then remove every key, keyspace and topic of the run."""
        for process in self.processes:
            self.stop(process)
        for runtime in [self.runtime, *self.scratch]:
            _drop_read_models(runtime)
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        names = [topic_name(t, self.name) for t in all_topics()]
        for outcome in admin.delete_topics(names, operation_timeout=30).values():
            outcome.result(60)


def _drop_read_models(runtime: Runtime) -> None:
    """Every key and keyspace of the deployment: versions, media keyspace and schedule, pointer."""
    redis, session, base = runtime.redis, runtime.session, runtime.settings.cql_keyspace
    keys = list(redis.scan_iter(match=f"{base}:*", count=5000))
    for start in range(0, len(keys), 5000):
        redis.unlink(*keys[start:start + 5000])
    rows = session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
    for name in sorted(r.keyspace_name for r in rows):
        if name in (base, f"{base}_media") or name.startswith(f"{base}_v"):
            session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=120)
    runtime.close()
