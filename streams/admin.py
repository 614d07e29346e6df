"""Creates the topic catalogue on the broker, idempotently."""

from __future__ import annotations

import logging

from confluent_kafka.admin import AdminClient, NewTopic

from streams.topics import DEAD_LETTER, TOPICS, Topic, topic_name

__all__ = ["ensure_topics", "all_topics"]

log = logging.getLogger(__name__)


def all_topics() -> tuple[Topic, ...]:
    """Every topic the project owns, the dead-letter topic included."""
    return (*TOPICS, DEAD_LETTER)


def ensure_topics(bootstrap: str, prefix: str, timeout: float = 30) -> list[str]:
    """Create the missing topics; returns the names created. Existing ones are left alone."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in all_topics() if topic_name(t, prefix) not in existing]
    if not missing:
        return []
    requests = [
        NewTopic(topic_name(t, prefix), t.partitions, 1, config=t.config()) for t in missing
    ]
    for name, outcome in admin.create_topics(requests, operation_timeout=timeout).items():
        try:
            outcome.result(timeout)
        except Exception as error:  # an init racing another one: the topic now exists
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
        log.info("created topic %s", name)
    return [r.topic for r in requests]
