"""Keeps a worker process running: restarts it with back-off when it dies of an error.

The faust worker stops for good when it cannot reach the broker (a Kafka restart, a network
blip). `stories worker` therefore runs it as a child and starts a new one after such an exit;
the child dies with its parent, so killing `stories worker` never leaves a worker behind:
the kernel kills it where the C library has prctl(PR_SET_PDEATHSIG) (Linux, glibc or musl),
and elsewhere (macOS, the BSDs) the child watches its parent itself (`watch_parent`).
`--processes N` runs N such children in one consumer group, to use N cores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial

__all__ = ["supervise", "worker_child_argv", "child_environments", "watch_parent",
           "PARENT_VARIABLE"]

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
HEALTHY_RUN_SECONDS = 60  # a child that lived this long resets the back-off
POLL_SECONDS = 0.5
# Set in a child's environment when the kernel cannot kill it with its parent: the pid it
# watches (`watch_parent`).
PARENT_VARIABLE = "STORIES_SUPERVISOR_PID"
WATCH_SECONDS = 1.0


@cache
def _find_prctl() -> Callable[..., int] | None:
    """The C library's prctl, or None where it has none. find_library may find nothing (musl
    without a linker, say): CDLL(None) then searches the symbols the process already has."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(prctl: Callable[..., int], parent: int) -> None:
    """Runs in the child before exec: the kernel kills it when the parent goes. A parent that
    went before the request was made is noticed here instead."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def watch_parent(interval: float = WATCH_SECONDS) -> threading.Thread | None:
    """In a child started without the kernel's help: a daemon thread that kills this process
    once its parent (`PARENT_VARIABLE`) is gone, as PR_SET_PDEATHSIG would. None when the
    variable is unset (not supervised, or the kernel does it)."""
    parent = int(os.environ.pop(PARENT_VARIABLE, "") or 0)  # for this process only
    if not parent:
        return None
    thread = threading.Thread(target=_watch, args=(parent, interval), name="watch-parent",
                              daemon=True)
    thread.start()
    return thread


def _watch(parent: int, interval: float) -> None:
    """An orphan is adopted by init or a subreaper: its parent pid changes, never back."""
    while os.getppid() == parent:
        time.sleep(interval)
    log.warning("the supervisor (pid %d) is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGKILL)


def child_environments(processes: int, metrics_port: int) -> list[dict[str, str]]:
    """Each child's environment: the same, but a metrics port of its own (port + index)."""
    environments = []
    for index in range(processes):
        env = dict(os.environ)
        if metrics_port:
            env["STORIES_WORKER_METRICS_PORT"] = str(metrics_port + index)
        environments.append(env)
    return environments


@dataclass
class _Child:
    """One supervised process slot: restarted with its own back-off when it dies."""

    argv: Sequence[str]
    env: dict[str, str]
    max_backoff: float
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    signalled: int = 0  # the pid last asked to stop

    def start(self) -> None:
        self.started = time.monotonic()
        prctl, parent = _find_prctl(), os.getpid()
        if prctl is None:
            self.process = subprocess.Popen(list(self.argv),
                                            env={**self.env, PARENT_VARIABLE: str(parent)})
            return
        self.process = subprocess.Popen(
            list(self.argv), env=self.env,
            preexec_fn=partial(_die_with_parent, prctl, parent),  # noqa: PLW1509 - the supervisor runs no threads
        )

    def check(self) -> int | None:
        """Restart the child when its back-off is over; the exit code when it ended cleanly."""
        now = time.monotonic()
        if self.process is None:
            if now >= self.restart_at:
                self.start()
            return None
        code = self.process.poll()
        if code is None:
            return None
        if code == 0:
            return 0
        if now - self.started > HEALTHY_RUN_SECONDS:
            self.backoff = 1.0
        log.warning("worker %d exited with code %d; starting a new one in %.0f s",
                    self.process.pid, code, self.backoff)
        self.process, self.restart_at = None, now + self.backoff
        self.backoff = min(self.backoff * 2, self.max_backoff)
        return None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            self.signalled = self.process.pid

    def wait(self) -> int:
        return self.process.wait() if self.process is not None else 0


def supervise(argv: Sequence[str], environments: Sequence[dict[str, str]] | None = None,
              max_backoff: float = 30.0) -> int:
    """Run one `argv` child per environment until they exit cleanly or we are asked to stop.

    Returns the first non-zero exit code, else 0. Children run in the same consumer group, so they share the
    partitions; one that dies of an error is started again while the others go on.
    """
    children = [_Child(argv, env, max_backoff) for env in environments or [dict(os.environ)]]
    stopping = 0

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = signum
        for child in children:
            child.signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.start()
    finished: dict[int, int] = {}
    while not stopping and len(finished) < len(children):
        for index, child in enumerate(children):
            if index not in finished and (code := child.check()) is not None:
                finished[index] = code
        time.sleep(POLL_SECONDS)
    for child in children:  # one started while the signal was being forwarded
        if stopping and child.process is not None and child.signalled != child.process.pid:
            child.signal(stopping)
    codes = [child.wait() for child in children]
    return next((code for code in codes if code != 0), 0)


def worker_child_argv() -> list[str]:
    return [sys.executable, "-m", "stories.cli", "worker", "--no-supervise"]
