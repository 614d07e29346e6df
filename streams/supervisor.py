"""Keeps a worker process running: restarts it with back-off when it dies of an error.

The faust worker stops for good when it cannot reach the broker (a Kafka restart, a network
blip). `stories worker` therefore runs it as a child and starts a new one after such an exit;
the child dies with its parent, so killing `stories worker` never leaves a worker behind.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["supervise", "worker_child_argv"]

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
HEALTHY_RUN_SECONDS = 60  # a child that lived this long resets the back-off


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it when the parent goes."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def supervise(argv: Sequence[str], max_backoff: float = 30.0) -> int:
    """Run `argv` until it exits cleanly or we are asked to stop; returns its exit code."""
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    backoff = 1.0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(list(argv), preexec_fn=_die_with_parent)  # noqa: PLW1509
        code = child.wait()
        if stopping or code == 0:
            return code
        if time.monotonic() - started > HEALTHY_RUN_SECONDS:
            backoff = 1.0
        log.warning("worker exited with code %d; starting a new one in %.0f s", code, backoff)
        time.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)


def worker_child_argv() -> list[str]:
    return [sys.executable, "-m", "stories.cli", "worker", "--no-supervise"]
