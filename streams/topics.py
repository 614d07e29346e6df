"""The topic catalogue: which event goes to which topic, under which key, kept how long."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Topic",
    "TOPICS",
    "DEAD_LETTER",
    "DEAD_LETTER_REDRIVEN",
    "SCHEMAS",
    "topic_for",
    "topic_name",
    "key_of",
    "EVENT_TOPIC",
]

DAY_MS = 86_400_000
# Views, reactions and answers are only needed while a story lives (<= 48 h) and for the
# insights window after it (30 days); one more day of margin.
ENGAGEMENT_RETENTION_MS = 33 * DAY_MS


@dataclass(frozen=True)
class Topic:
    """A topic's shape: who writes it, how it is keyed, how long it keeps events."""

    suffix: str
    partitions: int
    key_field: str
    retention_ms: int
    events: tuple[str, ...]
    description: str
    cleanup_policy: str = "delete"
    # Seconds the worker waits for a batch of this topic to fill before folding what came: it
    # waits that long after every batch, busy or not (faust's take_events).
    batch_within: float = 0.05

    def config(self, min_insync_replicas: int = 1) -> dict[str, str]:
        """Broker-side topic configuration; with acks=all, a write needs `min_insync_replicas`
        replicas in sync (1 on a single broker, 2 of 3 on a cluster)."""
        return {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "min.insync.replicas": str(min_insync_replicas),
            "message.timestamp.type": "CreateTime",
            "compression.type": "producer",
        }


TOPICS: tuple[Topic, ...] = (
    Topic(
        suffix="story-lifecycle",
        partitions=6,
        key_field="story_id",
        retention_ms=-1,
        events=("StoryPosted", "MediaProcessed", "MediaRejected", "StoryDeleted", "StoryExpired"),
        description="A story's life, in order per story: posted, media ready or rejected, gone.",
    ),
    Topic(
        suffix="engagement",
        partitions=12,
        key_field="story_id",
        retention_ms=ENGAGEMENT_RETENTION_MS,
        events=("StoryViewed", "StoryReacted", "StickerAnswered", "StoryReplied"),
        description="The hot path: views, reactions, sticker answers, replies, per story.",
    ),
    Topic(
        suffix="social-graph",
        partitions=6,
        key_field="actor_id",
        retention_ms=-1,
        events=("UserFollowed", "UserUnfollowed", "CloseFriendsChanged", "UserErased"),
        description="Follows, close-friends lists and account erasures, in order per acting "
                    "user (an erasure is keyed by the erased user, after their own changes).",
    ),
    Topic(
        suffix="highlights",
        partitions=3,
        key_field="highlight_id",
        retention_ms=-1,
        events=(
            "HighlightCreated",
            "HighlightUpdated",
            "HighlightStoryAdded",
            "HighlightStoryRemoved",
            "HighlightDeleted",
        ),
        description="Highlights, in order per highlight.",
    ),
)

DEAD_LETTER = Topic(
    suffix="dead-letter",
    partitions=3,
    key_field="",
    retention_ms=ENGAGEMENT_RETENTION_MS,
    events=(),
    description="Messages that could not be decoded or broke the rules; the reason is in headers.",
)

DEAD_LETTER_REDRIVEN = Topic(
    suffix="dead-letter-redriven",
    partitions=1,
    key_field="dead_letter_id",
    # Compacted and kept forever: a mark must outlive the dead letter it names (or a later redrive
    # would send that one again), and compaction keeps one small record per redriven dead letter.
    retention_ms=-1,
    events=(),
    description="One mark per dead letter sent back to its topic, keyed by its id; written in the "
                "same transaction as the re-sent event, read before each redrive.",
    cleanup_policy="compact",
)

SCHEMAS = Topic(
    suffix="schemas",
    partitions=1,
    key_field="fingerprint",
    # Compacted and kept forever: a reader of an older release may meet an event of any newer
    # version, for as long as the log keeps it.
    retention_ms=-1,
    events=(),
    description="Every event schema version a producer writes, keyed by its fingerprint (hex): "
                "readers of an older release look up the versions they do not know.",
    cleanup_policy="compact",
)

EVENT_TOPIC: dict[str, Topic] = {event: topic for topic in TOPICS for event in topic.events}


def topic_name(topic: Topic, prefix: str) -> str:
    """The full topic name under a deployment's prefix."""
    return f"{prefix}.{topic.suffix}"


def topic_for(event_name: str) -> Topic:
    """The topic an event belongs to."""
    try:
        return EVENT_TOPIC[event_name]
    except KeyError:
        raise ValueError(f"unknown event {event_name!r}") from None


def key_of(event_name: str, record: Mapping[str, Any]) -> bytes:
    """The partition key: events that must stay in order share it."""
    return str(record[topic_for(event_name).key_field]).encode()
