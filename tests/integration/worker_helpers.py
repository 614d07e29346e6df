"""Running real worker processes against a private set of topics, keyspace and Redis prefix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from core.settings import Settings
from projections.runtime import Runtime
from streams.admin import ensure_topics

__all__ = ["PrivateDeployment", "wait_until"]


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PrivateDeployment:
    """Topics, keyspace and Redis prefix of its own, so tests never see each other's data."""

    def __init__(self, settings: Settings, tmp_path: Path):
        name = f"w{uuid.uuid4().hex[:10]}"
        self.overrides = {"topic_prefix": name, "cql_keyspace": name, "worker_metrics_port": 0}
        self.settings = settings.model_copy(update=self.overrides)
        self.tmp_path = tmp_path
        ensure_topics(self.settings.kafka_bootstrap, name)
        self.runtime = Runtime(self.settings)
        _ = self.runtime.version  # creates and migrates the keyspace before any worker starts
        self.workers: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({f"STORIES_{k.upper()}": str(v) for k, v in self.overrides.items()})
        env.update({
            "STORIES_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "STORIES_CQL_PORT": str(self.settings.cql_port),
            "STORIES_REDIS_URL": self.settings.redis_url,
        })
        return env

    def start_worker(self) -> subprocess.Popen:
        log = (self.tmp_path / f"worker-{len(self.workers)}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "stories.cli", "worker"], env=self.env(),
            stdout=log, stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def lag(self) -> int:
        """Events the worker group has not yet committed, over every input topic."""
        from streams.admin import group_lag
        from streams.topics import TOPICS

        prefix = self.settings.topic_prefix
        return group_lag(self.settings.kafka_bootstrap, f"{prefix}-worker", TOPICS, prefix)

    def wait_idle(self, timeout: float = 60) -> None:
        """Until the workers have committed everything produced so far."""
        wait_until(lambda: self.lag() == 0, "the workers to commit every event", timeout)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:]
                         for p in sorted(self.tmp_path.glob("worker-*.log")))

    def close(self) -> None:
        for process in self.workers:
            self.stop(process)
        redis = self.runtime.redis
        for version in self.runtime.version.versions():
            for key in redis.scan_iter(match=f"{version.redis_prefix}*", count=1000):
                redis.delete(key)
            self.runtime.session.execute(f"DROP KEYSPACE IF EXISTS {version.keyspace}", timeout=120)
        for key in redis.scan_iter(match=f"{self.settings.cql_keyspace}:media:*", count=1000):
            redis.delete(key)
        for base in (self.settings.cql_keyspace, f"{self.settings.cql_keyspace}_media"):
            self.runtime.session.execute(f"DROP KEYSPACE IF EXISTS {base}", timeout=120)
        self.runtime.close()
