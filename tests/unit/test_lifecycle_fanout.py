"""Which lifecycle events push the author's followers' trays: only a change to a story that a
tray may show (a ready one) does; a story still processing, or refused, changes no tray."""

from __future__ import annotations

import random
import time
import uuid

import pytest

import schemas
from projections.folds.lifecycle import LifecycleSnapshot, fold_lifecycle
from projections.folds.policy import ProjectionPolicy
from projections.model import Story, story_from_posted, with_media
from projections.stores.base import StoryRef
from simulation.content import renditions

AUTHOR = "ann"


def now_ms() -> int:
    return int(time.time() * 1000)


def post(kind: str = "TEXT") -> tuple[str, dict]:
    media = {} if kind == "TEXT" else {"media_id": "upload"}
    return ("StoryPosted", schemas.new_event(
        "StoryPosted", actor_id=AUTHOR, story_id=str(uuid.uuid4()), kind=kind,
        text="hello" if kind == "TEXT" else None, lifetime_seconds=3600, **media))


def processed(story: Story) -> tuple[str, dict]:
    return ("MediaProcessed", schemas.new_event(
        "MediaProcessed", actor_id="system", story_id=story.story_id, media_id="upload",
        media_kind=story.kind, renditions=renditions(story.story_id, story.kind,
                                                     random.Random(1))))


def rejected(story: Story) -> tuple[str, dict]:
    return ("MediaRejected", schemas.new_event(
        "MediaRejected", actor_id="system", story_id=story.story_id, media_id="upload",
        reason="not an image"))


def ended(name: str, story: Story) -> tuple[str, dict]:
    if name == "StoryDeleted":
        return (name, schemas.new_event(name, actor_id=AUTHOR, story_id=story.story_id))
    return (name, schemas.new_event(name, actor_id="system", story_id=story.story_id,
                                    author_id=AUTHOR, expires_at=story.expires_at))


def fanned_out(events, stories: list[Story] = ()) -> list[str]:
    """The authors whose followers' trays the batch pushes, from the stories stored before."""
    snapshot = LifecycleSnapshot(
        refs={s.story_id: StoryRef(s.author_id, s.expires_at) for s in stories},
        stories={AUTHOR: list(stories)} if stories else {})
    return fold_lifecycle(events, snapshot, now_ms(), ProjectionPolicy()).changed_authors


def image_story() -> Story:
    return story_from_posted(post("IMAGE")[1])


def test_a_text_post_is_pushed_to_the_trays():
    assert fanned_out([post()]) == [AUTHOR]


def test_a_post_redelivered_after_its_write_is_pushed_again():
    text = post()
    assert fanned_out([text], [story_from_posted(text[1])]) == [AUTHOR]


def test_a_post_whose_media_is_still_processing_pushes_nothing():
    assert fanned_out([post("IMAGE"), post("VIDEO")]) == []


def test_media_ready_pushes_the_story_into_the_trays():
    story = image_story()
    assert fanned_out([processed(story)], [story]) == [AUTHOR]


def test_media_refused_pushes_nothing():
    story = image_story()
    assert fanned_out([rejected(story)], [story]) == []


@pytest.mark.parametrize("end", ["StoryExpired", "StoryDeleted"])
def test_a_shown_story_that_ends_leaves_the_trays(end):
    story = image_story()
    ready = with_media(story, processed(story)[1])
    assert fanned_out([ended(end, ready)], [ready]) == [AUTHOR]


@pytest.mark.parametrize("end", ["StoryExpired", "StoryDeleted"])
def test_a_story_that_ends_unseen_by_the_store_still_clears_the_trays(end):
    # Not found in the author's stories: any entry listing it must go all the same.
    assert fanned_out([ended(end, image_story())]) == [AUTHOR]


def test_a_story_that_ends_while_processing_pushes_nothing():
    story = image_story()
    assert fanned_out([ended("StoryDeleted", story)], [story]) == []
