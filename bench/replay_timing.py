"""Replay timed per fold: how long each topic's batches take to fold during `replay`.

`replay` folds each batch through the projector's map from topic to fold; wrapping the
entries of that map for the duration of a benchmark replay (in this process only) splits its
time by topic without touching the replay code.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from typing import Any

from projections import projector

__all__ = ["timed_folds"]


def _timed(fold: Any, topic: str, tally: dict[str, dict[str, float]]) -> Any:
    @functools.wraps(fold)
    def wrapper(self: projector.Projector, events: Any, partitions: Any = None) -> Any:
        began = time.perf_counter()
        try:
            return fold(self, events, partitions)
        finally:
            entry = tally.setdefault(topic, {"events": 0, "fold_seconds": 0.0})
            entry["events"] += len(events)
            entry["fold_seconds"] += time.perf_counter() - began

    return wrapper


@contextlib.contextmanager
def timed_folds() -> Iterator[dict[str, dict[str, float]]]:
    """Per topic: events folded and seconds spent folding, while the block runs."""
    tally: dict[str, dict[str, float]] = {}
    originals = dict(projector.FOLDS)
    try:
        for topic, fold in originals.items():
            projector.FOLDS[topic] = _timed(fold, topic, tally)
        yield tally
    finally:
        projector.FOLDS.update(originals)
        for entry in tally.values():
            seconds = entry["fold_seconds"]
            entry["fold_seconds"] = round(seconds, 2)
            entry["fold_rate"] = round(entry["events"] / seconds) if seconds else 0
