"""A private deployment with a bucket of its own, and reads of what the media worker did."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemas
from core.settings import Settings
from harness.deployment import Deployment
from harness.log import read_log
from harness.waiting import wait_until
from media.clients import MediaClients, media_clients
from media.layout import upload_key
from streams.topics import TOPICS

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


class MediaDeployment(Deployment):
    """Topics, keyspaces, Redis prefix and bucket of its own; settings overridable per test."""

    def __init__(self, settings: Settings, tmp_path: Path, **overrides: Any):
        super().__init__(settings, tmp_path, bucket=True, **overrides)
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
        return [(n, r) for n, r in read_log(self.settings, [LIFECYCLE], timeout=30)
                if r.get("story_id") == story_id]

    def outcomes(self, story_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(n, r) for n, r in self.lifecycle_events(story_id)
                if n in ("MediaProcessed", "MediaRejected")]
