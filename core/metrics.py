"""Prometheus metrics of the worker (the gateway has its own), and those of `stories replay`.

The replay's metrics live in a registry of their own (`REPLAY_REGISTRY`), served only by a
replay started with `--metrics-port`: the worker and the gateway, which import this module too,
do not expose them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

__all__ = [
    "EVENTS_PROJECTED",
    "DEAD_LETTERS",
    "STORE_RETRIES",
    "BATCH_SECONDS",
    "BATCH_SIZE",
    "FOLD_SECONDS",
    "CONSUMER_LAG",
    "STORE_FAULT",
    "WORKER_READY",
    "DEAD_LETTER_REASONS",
    "EXPIRY_LAG",
    "EXPIRY_BACKLOG",
    "EXPIRY_BACKLOG_AGE",
    "STORIES_EXPIRED",
    "MEDIA_OUTCOMES",
    "MEDIA_SECONDS",
    "MEDIA_DESTROYED",
    "REDIS_UNREPLICATED",
    "REPLAY_REGISTRY",
    "REPLAY_EVENTS",
    "REPLAY_REMAINING",
    "REPLAY_PROGRESS",
    "REPLAY_PHASE",
    "REPLAY_PHASES",
]

EVENTS_PROJECTED = Counter(
    "stories_events_projected_total", "Events folded into the read models", ["topic"]
)
# Why a message was set aside: it did not decode, broke the events' rules, was impossible
# against the read models, or made the fold fail while the rest of its batch folded.
DEAD_LETTER_REASONS = ("decode", "validation", "rejected", "fold_error")
DEAD_LETTERS = Counter(
    "stories_dead_letters_total", "Messages set aside on the dead-letter topic",
    ["source_topic", "reason"],
)
STORE_RETRIES = Counter(
    "stories_store_retries_total",
    "Batches retried because a store was unavailable or refused the writes", ["topic"],
)
BATCH_SECONDS = Histogram(
    "stories_batch_seconds", "Time to decode and project one batch", ["topic"]
)
BATCH_SIZE = Histogram(
    "stories_batch_size", "Messages in one batch handed to the worker", ["topic"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000),
)
FOLD_SECONDS = Histogram(
    "stories_fold_seconds", "Time the projector takes to fold one batch into the read models",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "stories_consumer_lag", "Messages of a partition not yet committed by this worker",
    ["topic", "partition"],
)
STORE_FAULT = Gauge(
    "stories_store_fault", "1 while a store fault holds a topic's batches back", ["topic"]
)
WORKER_READY = Gauge("stories_worker_ready", "1 when the worker answers /readyz with 200")
EXPIRY_LAG = Histogram(
    "stories_expiry_lag_seconds",
    "From a story's expiry time to the StoryExpired event being emitted",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
# Both measured on each poll of the expiry timer, over the indexes this worker polls (sum the
# counts over workers, take the largest age).
EXPIRY_BACKLOG = Gauge(
    "stories_expiry_backlog",
    "Stories past their expiry time whose end is not folded yet, in the indexes this worker polls",
)
EXPIRY_BACKLOG_AGE = Gauge(
    "stories_expiry_backlog_age_seconds",
    "How long the earliest of those stories is past its expiry time (0: none)",
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
# Only when a primary has fewer replicas attached than STORIES_REDIS_WAIT_REPLICAS asks for:
# its writes are kept (no replica can take over and lose them), but a second fault would.
REDIS_UNREPLICATED = Counter(
    "stories_redis_unreplicated_writes_total",
    "Flushes a Redis primary took while fewer replicas than asked were attached to it",
)

REPLAY_REGISTRY = CollectorRegistry()
REPLAY_EVENTS = Counter(
    "stories_replay_events_total", "Events read from the log and folded by this replay",
    ["topic"], registry=REPLAY_REGISTRY,
)
REPLAY_REMAINING = Gauge(
    "stories_replay_remaining_events", "Events of the current pass not folded yet",
    registry=REPLAY_REGISTRY,
)
REPLAY_PROGRESS = Gauge(
    "stories_replay_progress_ratio", "Share of the rebuild pass folded so far, 0 to 1",
    registry=REPLAY_REGISTRY,
)
# rebuilding: the first pass over the log; catching_up: passes until the lag is small;
# tailing: after the switch, for the grace period; retiring: dropping the old version.
REPLAY_PHASES = ("idle", "rebuilding", "catching_up", "tailing", "retiring", "done",
                 "cancelled", "failed")
REPLAY_PHASE = Enum(
    "stories_replay_phase", "Where the replay is", states=list(REPLAY_PHASES),
    registry=REPLAY_REGISTRY,
)
