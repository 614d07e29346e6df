"""The expiry index and its claims, read from the real Redis after the Projector wrote them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import schemas
from core.clock import to_ms
from projections.stores.expiry_index import (
    DueExpiry,
    claim_expiry,
    due_expiries,
    release_expiry,
    settle_expiry,
)


def _post(projector, minutes_left: int) -> dict:
    occurred = datetime.now(UTC) - timedelta(minutes=60 - minutes_left)
    record = schemas.new_event("StoryPosted", "author", occurred_at=occurred,
                               story_id=str(uuid.uuid4()), kind="TEXT", text="soon gone",
                               lifetime_seconds=3600)
    assert projector.apply_lifecycle([("StoryPosted", record)]) == []
    return record


def test_stories_come_due_in_expiry_order(stores):
    projector = stores.fresh()
    later, sooner = _post(projector, minutes_left=20), _post(projector, minutes_left=10)
    models, now = projector.redis, to_ms(datetime.now(UTC))
    assert due_expiries(models, now, 10) == []
    due = due_expiries(models, now + 30 * 60_000, 10)
    assert due == [DueExpiry(r["story_id"], "author", to_ms(r["expires_at"])) for r in (sooner, later)]
    assert due_expiries(models, now + 30 * 60_000, 1) == due[:1]


def test_one_claim_per_story_until_released_or_settled(stores):
    projector = stores.fresh()
    story_id = _post(projector, minutes_left=5)["story_id"]
    models = projector.redis
    assert claim_expiry(models, story_id, 30_000)
    assert not claim_expiry(models, story_id, 30_000)  # another worker emits it
    release_expiry(models, story_id)
    assert claim_expiry(models, story_id, 30_000)  # not acknowledged: tried again
    settle_expiry(models, story_id, 60_000)
    assert not claim_expiry(models, story_id, 30_000)  # acknowledged: never again
