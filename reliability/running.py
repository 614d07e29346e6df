"""Running one fault scenario: its own deployment, its traffic sent at a pace, its row at the end."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from core.settings import Settings
from harness.deployment import Deployment
from reliability.accounting import account, expired_by_timer, replay_diff, wait_settled
from reliability.outcome import Row, Size
from reliability.traffic import EXPIRE_AFTER_SECONDS, Event, ScenarioTraffic, scenario_traffic
from streams.producer import EventProducer

__all__ = ["ScenarioRun"]


def _emit_paced(producer: EventProducer, events: list[Event], seconds: float) -> int:
    """Emit in chunks spread over `seconds` (five a second); returns how many were sent."""
    chunk = max(1, len(events) // max(1, int(seconds * 5)))
    for start in range(0, len(events), chunk):
        items = [(i, n, r) for i, (n, r) in enumerate(events[start:start + chunk], start)]
        report = producer.emit_many(items)
        if report.failures:
            raise RuntimeError(f"emission failed: {report.failures[:3]}")
        time.sleep(0.2)
    return len(events)


class ScenarioRun:
    """A deployment of its own and the traffic, for one scenario; closed when it ends."""

    def __init__(self, settings: Settings, size: Size, work: Path, seed: int,
                 expire_after: float = EXPIRE_AFTER_SECONDS, **overrides: Any):
        self.deployment = Deployment(settings, work, **overrides)
        # Made once the deployment exists, so the expiring stories run out during the run.
        self.traffic = scenario_traffic(seed, size, expire_after)

    def __enter__(self) -> ScenarioRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.deployment.close()

    def send(self, seconds: float, traffic: ScenarioTraffic | None = None,
             producer: EventProducer | None = None) -> Future[int]:
        """Emit the traffic (or a part of it) over `seconds` in the background, with the
        deployment's producer unless given one."""
        pool = ThreadPoolExecutor(1, thread_name_prefix="traffic")
        events = (traffic or self.traffic).events
        sent = pool.submit(_emit_paced, producer or self.deployment.runtime.events, events,
                           seconds)
        pool.shutdown(wait=False)
        return sent

    def finish(self, scenario: str, faults: str) -> Row:
        """A worker running, everything reflected, workers stopped, then a replay compared."""
        d = self.deployment
        if not any(w.poll() is None for w in d.workers):
            d.start_worker()
        wait_settled(d, self.traffic)
        found = account(d, self.traffic)
        for worker in d.workers:
            d.stop(worker)
        load = self.traffic.label(expired_by_timer(d.settings, self.traffic))
        return Row(scenario, load, faults, len(self.traffic.events), found.reflected, found.lost,
                   found.duplicated, found.leaks, replay_diff(d))
