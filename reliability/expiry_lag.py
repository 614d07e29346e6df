"""Expiry lag: from a story's expiry time to its removal from the read models, measured.

`python -m reliability.expiry_lag [--stories N]` posts N one-hour stories back-dated to expire
a few seconds apart, with a real worker running, and watches each leave its author's stories.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import schemas
from core.settings import Settings
from harness.deployment import Deployment
from projections.stores.redis_reads import stories_present

__all__ = ["measure"]


def _stories(count: int) -> tuple[list[tuple[int, str, dict]], dict[str, tuple[str, float]]]:
    now = datetime.now(UTC)
    events, expiry = [], {}
    for i in range(count):
        posted = now - timedelta(seconds=3600 - (8 + i * 0.25))
        story_id, author = str(uuid.uuid4()), f"lag-author-{i % 7}"
        expiry[story_id] = (author, (posted + timedelta(seconds=3600)).timestamp())
        events.append((i, "StoryPosted", schemas.new_event(
            "StoryPosted", actor_id=author, occurred_at=posted, story_id=story_id, kind="TEXT",
            text="soon gone", lifetime_seconds=3600)))
    return events, expiry


def measure(settings: Settings, count: int = 60) -> dict[str, float]:
    """p50/p95/p99/max seconds from expiry to removal, polled every 50 ms."""
    with tempfile.TemporaryDirectory() as work:
        d = Deployment(settings, Path(work))
        try:
            d.start_worker()
            events, expiry = _stories(count)
            d.runtime.events.emit_many(events)
            models = d.runtime.redis_models()
            lags: dict[str, float] = {}
            deadline = time.time() + count * 0.25 + 60
            while len(lags) < count and time.time() < deadline:
                found = stories_present(models, [(a, s) for s, (a, _) in expiry.items()])
                now = time.time()
                for (story_id, (_, expires)), present in zip(expiry.items(),
                                                            found.fetch(models.client), strict=True):
                    if not present and story_id not in lags and now > expires - 1:
                        lags[story_id] = now - expires
                time.sleep(0.05)
        finally:
            d.close()
    ordered = sorted(lags.values())
    q = statistics.quantiles(ordered, n=100)
    return {"stories": len(ordered), "p50": q[49], "p95": q[94], "p99": q[98],
            "max": ordered[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m reliability.expiry_lag", description=__doc__)
    parser.add_argument("--stories", type=int, default=60)
    result = measure(Settings(), parser.parse_args().stories)
    print(" ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                   for k, v in result.items()))


if __name__ == "__main__":
    main()
