"""Story keys copied into the read models are wrapped: they open only with their KEK and for
their own story, the same story always wraps to the same bytes, and the lifecycle fold puts
the copy beside the story and into the tray entries that show its thumbnail."""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import UTC, datetime

import pytest

import schemas
from core.clock import to_ms
from projections.folds.lifecycle import LifecycleSnapshot, fold_lifecycle, media_keys_needed
from projections.folds.policy import ProjectionPolicy
from projections.model import Story, TrayEntry, story_from_posted, tray_entry
from projections.stores.story_keys import (
    KeyWrapError,
    kek_id_for,
    unwrap_key,
    wrap_key,
    wrapped_kek_id,
)
from simulation.content import renditions

KEK = os.urandom(32)
STORY_KEY = os.urandom(32)


def test_a_wrapped_key_opens_with_its_kek_for_its_story():
    wrapped = wrap_key("d20261202", KEK, "s1", STORY_KEY)
    assert STORY_KEY not in wrapped
    assert wrapped_kek_id(wrapped) == "d20261202"
    assert unwrap_key(KEK, "s1", wrapped) == STORY_KEY


def test_the_same_story_always_wraps_to_the_same_bytes():
    # A replay must write byte for byte what the live worker wrote.
    assert wrap_key("d1", KEK, "s1", STORY_KEY) == wrap_key("d1", KEK, "s1", STORY_KEY)
    assert wrap_key("d1", KEK, "s1", STORY_KEY) != wrap_key("d1", KEK, "s2", STORY_KEY)


def test_a_copy_opens_for_no_other_story_and_under_no_other_kek():
    wrapped = wrap_key("d1", KEK, "s1", STORY_KEY)
    with pytest.raises(KeyWrapError, match="s2"):
        unwrap_key(KEK, "s2", wrapped)
    with pytest.raises(KeyWrapError):
        unwrap_key(os.urandom(32), "s1", wrapped)
    with pytest.raises(KeyWrapError, match="not a wrapped"):
        wrapped_kek_id(STORY_KEY[:1])


def test_one_kek_per_utc_day_of_posting():
    assert kek_id_for(to_ms(datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC))) == "d20261202"
    assert kek_id_for(to_ms(datetime(2026, 12, 3, tzinfo=UTC))) == "d20261203"


def _image_post(author: str = "ann") -> tuple[str, dict]:
    return ("StoryPosted", schemas.new_event(
        "StoryPosted", actor_id=author, story_id=str(uuid.uuid4()), kind="IMAGE",
        media_id=str(uuid.uuid4()), lifetime_seconds=3600))


def _processed(post: dict) -> tuple[str, dict]:
    return ("MediaProcessed", schemas.new_event(
        "MediaProcessed", actor_id="media-worker", story_id=post["story_id"],
        renditions=renditions(post["story_id"], "IMAGE", random.Random(1))))


def test_the_fold_keeps_the_wrapped_key_beside_the_processed_story():
    post = _image_post()
    wrapped = wrap_key("d1", KEK, post[1]["story_id"], STORY_KEY)
    events = [post, _processed(post[1])]
    needed = media_keys_needed(events, {}, {})
    assert needed == {post[1]["story_id"]: to_ms(post[1]["occurred_at"])}
    result = fold_lifecycle(events, LifecycleSnapshot(media_keys={post[1]["story_id"]: wrapped}),
                            int(time.time() * 1000), ProjectionPolicy())
    stored = [call.args[0] for call in result.writes.active_calls if call.method == "put_story"]
    assert stored[-1].status == "ready" and stored[-1].media_key == wrapped


def test_a_story_without_a_key_in_the_store_carries_none():
    post = _image_post()
    result = fold_lifecycle([post, _processed(post[1])], LifecycleSnapshot(),
                            int(time.time() * 1000), ProjectionPolicy())
    stored = [call.args[0] for call in result.writes.active_calls if call.method == "put_story"]
    assert stored[-1].status == "ready" and stored[-1].media_key is None


def test_the_tray_entry_carries_the_latest_storys_key_through_its_stored_form():
    story = story_from_posted(_image_post()[1])
    wrapped = wrap_key("d1", KEK, story.story_id, STORY_KEY)
    ready = Story.from_json(
        Story(**{**_fields(story), "status": "ready", "media_key": wrapped}).to_json())
    assert ready.media_key == wrapped
    entry = tray_entry([ready], "bob", True, int(time.time() * 1000))
    assert entry is not None and entry.media_key == wrapped
    assert TrayEntry.from_json("ann", entry.to_json()) == entry
    # Text stories' stored form is unchanged: no key field at all.
    assert b"mk" not in story.to_json()


def _fields(story: Story) -> dict:
    return {name: getattr(story, name) for name in Story.__slots__}
