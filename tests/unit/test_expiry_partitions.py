"""The expiry index per lifecycle partition: where the fold indexes a story, which indexes a
worker polls, and the layout of their keys."""

from __future__ import annotations

import random
import time
import uuid

import pytest
import redis
from faust.types import TP
from redis.crc import key_slot

import schemas
from projections.expiry import (
    SHORTEST_WAIT,
    indexes_to_poll,
    owned_partitions,
    seconds_to_next_run,
)
from projections.folds.lifecycle import LifecycleSnapshot, fold_lifecycle
from projections.folds.policy import ProjectionPolicy
from projections.folds.writes import Call
from projections.model import story_from_posted
from projections.stores.keys import expiry_owner, expiry_partition
from projections.stores.redis_store import RedisReadModels
from simulation.content import renditions

LIFECYCLE = "stories.story-lifecycle"


def now_ms() -> int:
    return int(time.time() * 1000)


def posted(story_id: str | None = None) -> tuple[str, dict]:
    return ("StoryPosted", schemas.new_event(
        "StoryPosted", actor_id="ann", story_id=story_id or str(uuid.uuid4()), kind="TEXT",
        text="hello", lifetime_seconds=3600))


def ended(name: str, record: dict) -> tuple[str, dict]:
    if name == "StoryDeleted":
        return (name, schemas.new_event(name, actor_id="ann", story_id=record["story_id"]))
    return (name, schemas.new_event(name, actor_id="system", story_id=record["story_id"],
                                    author_id="ann", expires_at=record["expires_at"]))


def index_calls(events, partitions=None, snapshot=None) -> list[tuple[str, str, int]]:
    """(operation, story, partition) of every expiry-index write the fold decided on."""
    result = fold_lifecycle(events, snapshot or LifecycleSnapshot(), now_ms(), ProjectionPolicy(),
                            partitions)
    return [_index_write(call) for call in result.writes.active_calls
            if call.method in ("put_story", "drop_story")]


def _index_write(call: Call) -> tuple[str, str, int]:
    if call.method == "put_story":
        story, _, partition = call.args
        return "put", story.story_id, partition
    _, story_id, partition = call.args
    return "drop", story_id, partition


def test_a_story_is_indexed_under_the_partition_its_events_were_read_from():
    first, second = posted(), posted()
    assert index_calls([first, second], [4, 1]) == [("put", first[1]["story_id"], 4),
                                                    ("put", second[1]["story_id"], 1)]


@pytest.mark.parametrize("end", ["StoryExpired", "StoryDeleted"])
def test_an_ended_story_leaves_the_index_of_its_partition(end):
    post = posted()
    story = story_from_posted(post[1])
    snapshot = LifecycleSnapshot(stories={"ann": [story]})
    assert index_calls([ended(end, post[1])], [3], snapshot) == [
        ("drop", story.story_id, 3)]


def test_media_ready_reindexes_the_story_under_the_same_partition():
    post = ("StoryPosted", {**posted()[1], "kind": "IMAGE", "media_id": "upload"})
    story = story_from_posted(post[1])
    media = ("MediaProcessed", schemas.new_event(
        "MediaProcessed", actor_id="system", story_id=story.story_id, media_id="upload",
        media_kind="IMAGE", renditions=renditions(story.story_id, "IMAGE", random.Random(1))))
    snapshot = LifecycleSnapshot(refs={}, stories={"ann": [story]})
    calls = index_calls([post, media], [5, 5], snapshot)
    assert calls and all(call == ("put", story.story_id, 5) for call in calls)


def test_events_that_come_from_no_topic_are_indexed_under_partition_0():
    post = posted()
    assert index_calls([post]) == [("put", post[1]["story_id"], 0)]


def test_each_event_needs_its_partition():
    with pytest.raises(ValueError):
        index_calls([posted(), posted()], [2])


def test_a_worker_polls_the_lifecycle_partitions_it_consumes():
    assignment = {TP(LIFECYCLE, 4), TP(LIFECYCLE, 1), TP("stories.engagement", 0),
                  TP("other.story-lifecycle", 2)}
    assert owned_partitions(assignment, LIFECYCLE) == [1, 4]
    assert owned_partitions({TP("stories.engagement", 3)}, LIFECYCLE) == []


def test_the_owner_of_partition_0_also_drains_the_old_index():
    assert indexes_to_poll([1, 4]) == [1, 4]
    assert indexes_to_poll([0, 5]) == [0, 5, None]
    assert indexes_to_poll([]) == []


def test_each_partitions_index_is_tagged_by_it_and_has_a_slot_of_its_own():
    m = RedisReadModels(redis.Redis(), "stories:v3:", b"secret")
    assert m.expiry_index(3) == "stories:v3:x:{p3}"
    assert m.expiry_index(None) == "stories:v3:x"  # the single index of earlier releases
    assert len({key_slot(m.expiry_index(p).encode()) for p in range(12)}) == 12


def test_an_index_owner_names_its_partition():
    assert [expiry_partition(expiry_owner(p)) for p in (0, 7, None)] == [0, 7, None]


def test_the_timer_wakes_just_after_the_next_expiry_instant_within_its_bounds():
    now = 1_000_000
    assert seconds_to_next_run(None, now, 0.5) == 0.5  # nothing to come: the longest wait
    assert seconds_to_next_run(now + 120, now, 0.5) == pytest.approx(0.121)  # due at +120 ms
    assert seconds_to_next_run(now + 60_000, now, 0.5) == 0.5  # posts may come meanwhile
    assert seconds_to_next_run(now + 2, now, 0.5) == SHORTEST_WAIT  # instants close together
    assert seconds_to_next_run(now - 5, now, 0.5) == SHORTEST_WAIT  # fell due during the run
