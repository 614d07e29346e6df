"""A private deployment with a bucket of its own, and reads of what the media worker did."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

import schemas
from core.clients import ensure_bucket, s3_client
from core.settings import Settings
from media.clients import MediaClients, media_clients, media_redis_prefix
from media.layout import upload_key
from media.state import media_keyspace
from streams.topics import TOPICS, topic_name
from tests.integration.worker_helpers import PrivateDeployment, wait_until

__all__ = ["MediaDeployment", "media_post"]

LIFECYCLE = next(t for t in TOPICS if t.suffix == "story-lifecycle")


def media_post(author: str, media_id: str, kind: str = "IMAGE", seconds_left: float | None = None,
               **fields: Any) -> tuple[str, dict[str, Any]]:
    """A StoryPosted naming an upload; back-dated so that `seconds_left` remain if given."""
    occurred_at = datetime.now(UTC)
    lifetime = fields.pop("lifetime_seconds", 86_400)
    if seconds_left is not None:
        occurred_at -= timedelta(seconds=lifetime - seconds_left)
    record = schemas.new_event("StoryPosted", actor_id=author, occurred_at=occurred_at,
                               story_id=str(uuid.uuid4()), kind=kind, media_id=media_id,
                               lifetime_seconds=lifetime, **fields)
    return "StoryPosted", record


class MediaDeployment(PrivateDeployment):
    """Topics, keyspaces, Redis prefix and bucket of its own; settings overridable per test."""

    def __init__(self, settings: Settings, tmp_path: Path, **overrides: Any):
        super().__init__(settings, tmp_path)
        name = self.overrides["topic_prefix"]
        self.overrides.update({"s3_bucket": name, **overrides})
        self.settings = self.settings.model_copy(update=self.overrides)
        self.runtime.settings = self.settings
        self.s3 = s3_client(self.settings)
        ensure_bucket(self.s3, self.settings.s3_bucket)
        self.media: MediaClients = media_clients(self.runtime, self.s3)

    @property
    def bucket(self) -> str:
        return self.settings.s3_bucket

    def upload(self, user_id: str, data: bytes, media_id: str | None = None) -> str:
        """Put an upload where the client's presigned PUT would; returns its media id."""
        media_id = media_id or str(uuid.uuid4())
        self.s3.put_object(Bucket=self.bucket, Key=upload_key(user_id, media_id), Body=data)
        return media_id

    def exists(self, key: str) -> bool:
        return self.media.objects.get(key) is not None

    def objects_of(self, story_id: str) -> list[str]:
        return sorted(item.key for item in self.media.objects.listing(f"media/{story_id}/"))

    def emit(self, *events: tuple[str, dict[str, Any]]) -> None:
        report = self.runtime.events.emit_many(
            (i, name, record) for i, (name, record) in enumerate(events))
        assert report.failures == []

    def settled(self, story_id: str) -> bool:
        """The media worker announced the story's outcome."""
        record = self.media.store.load(story_id)
        return record is not None and record.announced

    def wait_settled(self, story_id: str, timeout: float = 60) -> None:
        wait_until(lambda: self.settled(story_id), f"the media outcome of {story_id}", timeout)

    def lifecycle_events(self, story_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every event of one story on the story-lifecycle topic, in order."""
        return [(n, r) for n, r in self._read_topic() if r.get("story_id") == story_id]

    def outcomes(self, story_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(n, r) for n, r in self.lifecycle_events(story_id)
                if n in ("MediaProcessed", "MediaRejected")]

    def _read_topic(self) -> list[tuple[str, dict[str, Any]]]:
        name = topic_name(LIFECYCLE, self.settings.topic_prefix)
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                             "group.id": f"read-{uuid.uuid4()}", "enable.auto.commit": False})
        try:
            return _read_all(consumer, name, LIFECYCLE.partitions)
        finally:
            consumer.close()

    def close(self) -> None:
        for process in self.workers:
            self.stop(process)
        self._drop_media()
        super().close()

    def _drop_media(self) -> None:
        redis = self.runtime.redis
        for key in redis.scan_iter(match=f"{media_redis_prefix(self.settings)}*", count=1000):
            redis.delete(key)
        self.runtime.session.execute(
            f"DROP KEYSPACE IF EXISTS {media_keyspace(self.settings)}", timeout=120)
        keys = [item.key for item in self.media.objects.listing("")]
        self.media.objects.delete(keys)
        self.s3.delete_bucket(Bucket=self.bucket)


def _read_all(consumer: Consumer, name: str, partitions: int) -> list[tuple[str, dict[str, Any]]]:
    """From the first offset to the current end of every partition."""
    ends = {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            for p in range(partitions)}
    todo = {p for p, (low, high) in ends.items() if high > low}
    consumer.assign([TopicPartition(name, p, ends[p][0]) for p in todo])
    events = []
    deadline = time.monotonic() + 30
    while todo and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1.0):
            if message.error():
                continue
            events.append(schemas.decode(message.value()))
            if message.offset() + 1 >= ends[message.partition()][1]:
                todo.discard(message.partition())
    return events
