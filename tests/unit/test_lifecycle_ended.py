"""The stories a lifecycle batch ends, and the live-feed notes the worker publishes for them."""

from __future__ import annotations

import time
import uuid

import schemas
from projections.folds.lifecycle import LifecycleSnapshot, ended_notes, fold_lifecycle
from projections.folds.policy import ProjectionPolicy
from projections.model import story_from_posted
from projections.projector import Projector
from projections.stores.memory import MemoryActiveStore, MemoryRecordStore


def posted(author: str = "ann") -> tuple[str, dict]:
    return ("StoryPosted", schemas.new_event(
        "StoryPosted", actor_id=author, story_id=str(uuid.uuid4()), kind="TEXT", text="hi",
        lifetime_seconds=3600))


def deleted(post: tuple[str, dict], actor: str = "ann") -> tuple[str, dict]:
    return ("StoryDeleted", schemas.new_event("StoryDeleted", actor_id=actor,
                                              story_id=post[1]["story_id"]))


def expired(post: tuple[str, dict]) -> tuple[str, dict]:
    record = post[1]
    return ("StoryExpired", schemas.new_event(
        "StoryExpired", actor_id="system", story_id=record["story_id"],
        author_id=record["actor_id"], expires_at=record["expires_at"]))


def ended_by(events, snapshot: LifecycleSnapshot | None = None) -> list[str]:
    result = fold_lifecycle(events, snapshot or LifecycleSnapshot(), int(time.time() * 1000),
                            ProjectionPolicy())
    return result.ended


def test_deleted_and_expired_stories_end_in_the_order_they_ended():
    first, second, kept = posted(), posted(), posted()
    assert ended_by([first, second, kept, expired(second), deleted(first)]) == [
        second[1]["story_id"], first[1]["story_id"]]


def test_a_story_ends_once_however_often_its_end_comes():
    post = posted()
    snapshot = LifecycleSnapshot(stories={"ann": [story_from_posted(post[1])]})
    assert ended_by([expired(post), deleted(post), expired(post)], snapshot) == [
        post[1]["story_id"]]


def test_a_redelivered_end_of_a_story_already_gone_ends_it_again():
    """Harmless: no feed of a story that is gone can be open; a redelivery must not be lost."""
    post = posted()
    assert ended_by([deleted(post)]) == [post[1]["story_id"]]


def test_a_rejected_deletion_ends_nothing():
    post = posted()
    result = fold_lifecycle([post, deleted(post, actor="bob")], LifecycleSnapshot(),
                            int(time.time() * 1000), ProjectionPolicy())
    assert [index for index, _ in result.rejected] == [1]
    assert result.ended == []


def test_each_ended_story_is_one_note_the_gateway_knows():
    assert ended_notes(["a", "b"]) == [{"type": "ended", "story_id": "a"},
                                       {"type": "ended", "story_id": "b"}]


def _projector(live_feed: bool) -> Projector:
    return Projector(MemoryActiveStore(b"secret"), MemoryRecordStore(), live_feed=live_feed)


def test_the_running_worker_publishes_each_end_and_a_replay_does_not():
    post = posted()
    live, replay = _projector(live_feed=True), _projector(live_feed=False)
    for projector in (live, replay):
        assert projector.apply_lifecycle([post]) == []
        assert projector.redis.published == []  # a post ends nothing
        assert projector.apply_lifecycle([deleted(post)]) == []
    assert live.redis.published == [{"type": "ended", "story_id": post[1]["story_id"]}]
    assert replay.redis.published == []
