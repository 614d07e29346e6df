"""Worker processes killed without warning while traffic flows."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from core.settings import Settings
from reliability.outcome import Row, Size
from reliability.running import ScenarioRun

__all__ = ["worker_killed", "one_of_two_killed"]


def worker_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """kill -9 the worker at random points during traffic, restarting it each time."""
    with ScenarioRun(settings, size, work, seed) as run:
        d = run.deployment
        d.start_worker()
        sending = run.send(seconds=4 + size.kills * 2)
        rng = random.Random(seed)
        for _ in range(size.kills):
            time.sleep(rng.uniform(1.5, 3.0))
            d.stop(d.workers[-1], signal.SIGKILL)
            d.start_worker()
        sending.result()
        return run.finish("worker kill -9", f"{size.kills}× kill -9 + restart")


def one_of_two_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Two workers share the partitions; one is killed mid-run and the survivor takes over."""
    with ScenarioRun(settings, size, work, seed) as run:
        d = run.deployment
        d.start_worker()
        d.start_worker()
        sending = run.send(seconds=6)
        time.sleep(3)
        d.stop(d.workers[0], signal.SIGKILL)
        sending.result()
        return run.finish("two workers, one killed", "1× kill -9, no restart")
