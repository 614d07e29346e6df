"""A deployment of the product of its own on the shared local stack.

Its topics, keyspaces, Redis prefix (and bucket, if asked for) carry a unique name, so nothing
it writes is visible to anything else on the stack; closing it stops its processes and
removes every key, keyspace, object and topic it created.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient
from rich.console import Console

from core.clients import KafkaConfig, ensure_bucket, kafka_config, s3_client
from core.settings import Settings
from harness import log, processes
from harness.readmodels import entries
from harness.waiting import wait_until
from projections.replay import ReplayPlan, ReplayReport, replay
from projections.runtime import Runtime
from streams.admin import all_topics, ensure_topics, group_lag
from streams.topics import TOPICS, topic_name

__all__ = ["Deployment"]

WORKER = [sys.executable, "-m", "stories.cli", "worker"]


class Deployment:
    """Topics, keyspace and Redis prefix of its own, and the processes run against them."""

    def __init__(self, settings: Settings, workdir: Path, prefix: str = "w", bucket: bool = False,
                 **overrides: Any):
        self.name = f"{prefix}{uuid.uuid4().hex[:10]}"
        own = {"topic_prefix": self.name, "cql_keyspace": self.name, "worker_metrics_port": 0}
        if bucket:
            own["s3_bucket"] = self.name
        self.overrides = {**own, **overrides}
        self.settings = settings.model_copy(update=self.overrides)
        self.workdir = workdir
        self.has_bucket = bucket
        self.workers: list[subprocess.Popen] = []
        self.processes: list[subprocess.Popen] = []
        self.scratch: list[Runtime] = []
        ensure_topics(kafka_config(self.settings), self.name)
        self.runtime = Runtime(self.settings)
        self.runtime.version  # noqa: B018 - creates and migrates the keyspace before any worker
        if bucket:
            ensure_bucket(self.s3, self.settings.s3_bucket)

    @cached_property
    def s3(self) -> Any:
        return s3_client(self.settings)

    # -- processes ---------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a child process run against this deployment.

        Overrides set after the deployment was made (a test changing one setting before the
        next worker starts) apply too.
        """
        later = {f"STORIES_{name.upper()}": str(value) for name, value in self.overrides.items()}
        return {**os.environ, **processes.settings_env(self.settings), **later, **extra}

    def spawn(self, label: str, argv: list[str], log_path: Path | None = None,
              extra_env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """A child process against this deployment, its output in `<workdir>/<label>.log`."""
        log_path = log_path or self.workdir / f"{label}.log"
        process = processes.spawn(argv, self.env(**(extra_env or {})), log_path, self.workdir)
        self.processes.append(process)
        return process

    def start_worker(self, **extra_env: str) -> subprocess.Popen:
        """`stories worker` in the deployment's consumer group."""
        process = self.spawn(f"worker-{len(self.workers)}", WORKER, extra_env=extra_env)
        self.workers.append(process)
        return process

    def serve(self, label: str, argv: list[str], port: int, **extra_env: str) -> subprocess.Popen:
        """A server process, returned once it answers its health path."""
        process = self.spawn(label, argv, extra_env=extra_env)
        processes.wait_healthy(process, f"http://127.0.0.1:{port}", self.workdir / f"{label}.log")
        return process

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
        processes.stop(process, sig)

    def log_tail(self, label: str, size: int = 3000) -> str:
        path = self.workdir / f"{label}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def logs(self) -> str:
        """The end of every worker's log, for a failure message."""
        return "\n".join(self.log_tail(f"worker-{i}", 4000) for i in range(len(self.workers)))

    # -- progress ----------------------------------------------------------------------------
    def lag(self) -> int:
        """Events the worker group has not committed yet, over every input topic."""
        return group_lag(kafka_config(self.settings), f"{self.name}-worker", TOPICS, self.name)

    def produced(self) -> int:
        """Events in the deployment's input topics so far."""
        return log.produced(self.settings)

    def wait_idle(self, timeout: float = 120) -> float:
        """Until the workers have committed everything produced so far."""
        return wait_until(lambda: self.lag() == 0, "the workers to commit every event", timeout,
                          interval=0.5)

    # -- read models -------------------------------------------------------------------------
    def read_models(self) -> dict[str, Any]:
        """Every read-model entry of the serving versions (see `harness.readmodels.entries`)."""
        return entries(self.runtime.redis_models())

    def replay(self, console: Console | None = None) -> ReplayReport:
        """`stories replay --grace 0` in this process; the deployment then reads the new version."""
        report = replay(self.runtime, ReplayPlan(grace_seconds=0), console or Console(quiet=True))
        self.runtime.__dict__.pop("version", None)
        return report

    def scratch_runtime(self, suffix: str) -> Runtime:
        """Another keyspace and prefix beside the deployment's, for bare writers."""
        settings = self.settings.model_copy(update={"cql_keyspace": f"{self.name}{suffix}"})
        runtime = Runtime(settings)
        runtime.version  # noqa: B018 - created and migrated now, outside any timing
        self.scratch.append(runtime)
        return runtime

    # -- teardown ----------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the processes, then remove every key, keyspace, object and topic of the run."""
        for process in self.processes:
            self.stop(process)
        for runtime in [self.runtime, *self.scratch]:
            _drop_read_models(runtime)
        if self.has_bucket:
            _drop_bucket(self.s3, self.settings.s3_bucket)
        _drop_topics(kafka_config(self.settings), self.name)


def _drop_read_models(runtime: Runtime) -> None:
    """Every key and keyspace of a base name: versions, media keyspace and schedule, pointer."""
    redis, session, base = runtime.redis, runtime.session, runtime.settings.cql_keyspace
    keys = list(redis.scan_iter(match=f"{base}:*", count=5000))
    for start in range(0, len(keys), 5000):
        redis.unlink(*keys[start:start + 5000])
    rows = session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
    for name in sorted(r.keyspace_name for r in rows):
        if name in (base, f"{base}_media") or name.startswith(f"{base}_v"):
            session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=120)
    runtime.close()


def _drop_bucket(s3: Any, bucket: str) -> None:
    """Every object of the bucket, then the bucket."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def _drop_topics(kafka: KafkaConfig, prefix: str) -> None:
    admin = AdminClient(dict(kafka))
    names = [topic_name(t, prefix) for t in all_topics()]
    for outcome in admin.delete_topics(names, operation_timeout=30).values():
        outcome.result(60)
