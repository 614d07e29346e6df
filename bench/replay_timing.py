"""Replay timed per fold: how long each topic's batches take to fold during `replay`.

`replay` reads the topics one after another; wrapping the projector's fold methods for the
duration of a benchmark replay (in this process only) splits its time by topic without
touching the replay code.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import Any

from projections.projector import Projector

__all__ = ["timed_folds", "FOLDS"]

FOLDS = {"apply_graph": "social-graph", "apply_highlights": "highlights",
         "apply_lifecycle": "story-lifecycle", "apply_engagement": "engagement"}


def _timed(method: Any, name: str, tally: dict[str, dict[str, float]]) -> Any:
    @functools.wraps(method)
    def wrapper(self: Projector, events: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(self, events)
        finally:
            entry = tally.setdefault(FOLDS[name], {"events": 0, "fold_seconds": 0.0})
            entry["events"] += len(events)
            entry["fold_seconds"] += time.perf_counter() - began

    return wrapper


@contextlib.contextmanager
def timed_folds() -> Iterator[dict[str, dict[str, float]]]:
    """Per topic: events folded and seconds spent folding, while the block runs."""
    tally: dict[str, dict[str, float]] = {}
    originals = {name: getattr(Projector, name) for name in FOLDS}
    try:
        for name, method in originals.items():
            setattr(Projector, name, _timed(method, name, tally))
        yield tally
    finally:
        for name, method in originals.items():
            setattr(Projector, name, method)
        for entry in tally.values():
            seconds = entry["fold_seconds"]
            entry["fold_seconds"] = round(seconds, 2)
            entry["fold_rate"] = round(entry["events"] / seconds) if seconds else 0
