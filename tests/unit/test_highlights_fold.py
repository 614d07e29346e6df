"""The highlight fold: created, renamed, reordered, stories added and removed, deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from projections.folds.highlights import fold_highlight, reorder

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
S1, S2, S3 = (str(uuid.uuid4()) for _ in range(3))


def event(minutes: int, **fields):
    return {"actor_id": "owner", "highlight_id": "h1", "occurred_at": T0 + timedelta(minutes=minutes),
            **fields}


def created():
    return fold_highlight(None, "HighlightCreated", event(0, title="Trips", story_ids=[S1, S2]))


def test_created_then_redelivered_is_unchanged():
    first = created()
    assert first.story_ids == (S1, S2) and first.title == "Trips"
    assert fold_highlight(first, "HighlightCreated", event(5, title="Other", story_ids=[S3])) == first


def test_rename_and_reorder_keep_only_members():
    renamed = fold_highlight(created(), "HighlightUpdated", event(1, title="Summer", story_ids=None))
    assert renamed.title == "Summer" and renamed.story_ids == (S1, S2)
    reordered = fold_highlight(renamed, "HighlightUpdated",
                               event(2, title=None, story_ids=[S2, S3, S1]))
    assert reordered.story_ids == (S2, S1)


def test_add_and_remove_are_idempotent():
    added = fold_highlight(created(), "HighlightStoryAdded", event(1, story_id=S3))
    assert added.story_ids == (S1, S2, S3)
    assert fold_highlight(added, "HighlightStoryAdded", event(2, story_id=S3)) == added
    removed = fold_highlight(added, "HighlightStoryRemoved", event(3, story_id=S1))
    assert removed.story_ids == (S2, S3)
    assert fold_highlight(removed, "HighlightStoryRemoved", event(4, story_id=S1)) == removed


def test_deleted_highlight_stays_gone():
    assert fold_highlight(created(), "HighlightDeleted", event(1)) is None
    assert fold_highlight(None, "HighlightStoryAdded", event(2, story_id=S3)) is None
    assert fold_highlight(None, "HighlightUpdated", event(2, title="x", story_ids=None)) is None


def test_reorder_puts_unmentioned_members_after():
    assert reorder((S1, S2, S3), [S3]) == (S3, S1, S2)
    assert reorder((S1, S2), [S2, S2, "unknown"]) == (S2, S1)
