"""What the media worker and reconciliation talk to, built once per process from a Runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clients import s3_client
from core.settings import Settings
from media.schedule import MediaSchedule
from media.state import MediaStateStore, ensure_media_schema
from media.storage import MediaObjects
from projections.runtime import Runtime

__all__ = ["MediaClients", "media_clients", "media_redis_prefix"]


def media_redis_prefix(settings: Settings) -> str:
    """Beside the read-model versions (`<base>:vN:`), so a replay never drops a job or claim."""
    return f"{settings.cql_keyspace}:media:"


@dataclass(frozen=True)
class MediaClients:
    """The media keyspace, the schedule, the bucket, and who holds a story in a highlight."""

    settings: Settings
    store: MediaStateStore
    schedule: MediaSchedule
    objects: MediaObjects
    holding: Callable[[str], set[str]]


def media_clients(runtime: Runtime, s3: Any | None = None) -> MediaClients:
    """Connect (and migrate the media keyspace if needed) with the runtime's clients."""
    settings = runtime.settings
    keyspace = ensure_media_schema(runtime.session, settings)
    serving = runtime.serving_projector()  # highlights of the serving version, after switches
    return MediaClients(
        settings=settings,
        store=MediaStateStore(runtime.session, keyspace),
        schedule=MediaSchedule(runtime.redis, media_redis_prefix(settings)),
        objects=MediaObjects(s3 or s3_client(settings), settings.s3_bucket),
        holding=lambda story_id: serving.current().cql.highlight_ids_holding(story_id),
    )
