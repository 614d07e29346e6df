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
    "MEDIA_OUTCOMES",
    "MEDIA_SECONDS",
    "MEDIA_DESTROYED",
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
MEDIA_OUTCOMES = Counter(
    "stories_media_outcomes_total", "Media outcomes announced by the media worker", ["code"]
)
MEDIA_SECONDS = Histogram(
    "stories_media_process_seconds", "Time to fetch, process, encrypt and store one upload",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
MEDIA_DESTROYED = Counter(
    "stories_media_destroyed_total", "Stories whose media key was destroyed", ["why"]
)
