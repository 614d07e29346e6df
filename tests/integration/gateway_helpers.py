"""The gateway in front of a private deployment (the product's harness), and event builders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from harness.gateway import (
    NO_SUCH_STORY,
    GatewayProcess,
    GatewayWorld,
    User,
    WebSocketDenialResponse,
    gateway_client,
    unique,
)
from harness.log import events_in_log
from harness.waiting import wait_until

__all__ = [
    "GatewayWorld",
    "GatewayProcess",
    "WebSocketDenialResponse",
    "User",
    "gateway_client",
    "events_in_log",
    "unique",
    "wait_until",
    "text_story",
    "posted_event",
    "NO_SUCH_STORY",
]


def text_story(author_id: str, occurred_at: datetime | None = None, lifetime: int = 86_400,
               **fields: Any) -> dict[str, Any]:
    """A StoryPosted record, for stories the test emits directly (e.g. back-dated)."""
    fields.setdefault("text", "posted directly")
    return schemas.new_event("StoryPosted", author_id, occurred_at=occurred_at,
                             story_id=str(uuid.uuid4()), kind="TEXT",
                             lifetime_seconds=lifetime, **fields)


def posted_event(author_id: str, seconds_left: float) -> dict[str, Any]:
    """A one-hour story posted so long ago that it expires in `seconds_left`."""
    occurred = datetime.now(UTC) - timedelta(seconds=3600 - seconds_left)
    return text_story(author_id, occurred_at=occurred, lifetime=3600)
