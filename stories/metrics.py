"""Prometheus metrics of the worker (the gateway has its own)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "EVENTS_PROJECTED",
    "DEAD_LETTERS",
    "STORE_RETRIES",
    "BATCH_SECONDS",
    "EXPIRY_LAG",
    "STORIES_EXPIRED",
]

EVENTS_PROJECTED = Counter(
    "stories_events_projected_total", "Events folded into the read models", ["topic"]
)
DEAD_LETTERS = Counter(
    "stories_dead_letters_total", "Messages set aside on the dead-letter topic", ["source_topic"]
)
STORE_RETRIES = Counter(
    "stories_store_retries_total", "Batches retried because a store was unavailable", ["topic"]
)
BATCH_SECONDS = Histogram(
    "stories_batch_seconds", "Time to decode and project one batch", ["topic"]
)
EXPIRY_LAG = Histogram(
    "stories_expiry_lag_seconds",
    "From a story's expiry time to the StoryExpired event being emitted",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
STORIES_EXPIRED = Counter("stories_expired_total", "StoryExpired events emitted by the timer")
