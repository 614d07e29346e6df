"""A tray shows an author as unseen while any active story of theirs the viewer may see is unseen.

Folded by the Projector into the real Redis; pushed entries and celebrities merged at read
time follow the same rule, and entries stored before the rule read as their latest story.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from core.clock import to_ms
from projections.model import TrayEntry
from projections.queries import MAX_TRAY_AUTHORS, Tray, read_tray, run, tray_plan
from projections.stores.keys import Kind

MINUTE_MS = 60_000


def _post(projector, author: str, minutes_ago: int, lifetime_seconds: int) -> str:
    story_id = str(uuid.uuid4())
    record = schemas.new_event(
        "StoryPosted", author, occurred_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        story_id=story_id, kind="TEXT", text="hello", lifetime_seconds=lifetime_seconds)
    assert projector.apply_lifecycle([("StoryPosted", record)]) == []
    return story_id


def _follow(projector, follower: str, author: str) -> None:
    record = schemas.new_event("UserFollowed", follower, followee_id=author)
    assert projector.apply_graph([("UserFollowed", record)]) == []


def _view(projector, viewer: str, author: str, story_id: str) -> None:
    record = schemas.new_event("StoryViewed", viewer, story_id=story_id, author_id=author)
    assert projector.apply_engagement([("StoryViewed", record)]) == []


def _unseen(projector, viewer: str, now: int) -> dict[str, bool]:
    return {item.author_id: item.has_unseen for item in read_tray(projector.redis, viewer, now)}


def _older_and_newer(projector, author: str) -> tuple[str, str, int]:
    """An older story with 30 minutes left and a newer one for a day; when the older expires."""
    older = _post(projector, author, minutes_ago=30, lifetime_seconds=3600)
    newer = _post(projector, author, minutes_ago=1, lifetime_seconds=86_400)
    older_expires = to_ms(datetime.now(UTC)) + 30 * MINUTE_MS
    return older, newer, older_expires


@pytest.mark.parametrize("fanout_threshold", [10_000, 0], ids=["pushed", "celebrity"])
def test_an_unseen_older_story_keeps_the_author_unseen(stores, fanout_threshold):
    projector = stores.fresh(fanout_threshold=fanout_threshold)
    _follow(projector, "fan", "author")
    celebrities = projector.redis.celebrities_among(["author"])
    assert celebrities == ({"author"} if fanout_threshold == 0 else set())
    older, newer, older_expires = _older_and_newer(projector, "author")
    now = to_ms(datetime.now(UTC))
    assert _unseen(projector, "fan", now) == {"author": True}

    _view(projector, "fan", "author", newer)
    assert _unseen(projector, "fan", now) == {"author": True}  # the older one is still unseen
    # Once the older story has expired, only the watched newer one is left.
    assert _unseen(projector, "fan", older_expires + MINUTE_MS) == {"author": False}

    _view(projector, "fan", "author", older)
    assert _unseen(projector, "fan", now) == {"author": False}


def test_stories_the_viewer_may_not_see_do_not_make_the_author_unseen(stores):
    projector = stores.fresh()
    _follow(projector, "fan", "author")
    seen = _post(projector, "author", minutes_ago=5, lifetime_seconds=86_400)
    hidden = schemas.new_event(
        "StoryPosted", "author", story_id=str(uuid.uuid4()), kind="TEXT", text="friends only",
        audience={"mode": "ONLY", "user_ids": ["friend"]})
    assert projector.apply_lifecycle([("StoryPosted", hidden)]) == []
    _view(projector, "fan", "author", seen)
    assert _unseen(projector, "fan", to_ms(datetime.now(UTC))) == {"author": False}


def test_an_entry_stored_before_the_story_list_stands_for_its_latest_story(stores):
    projector = stores.fresh()
    _follow(projector, "fan", "author")
    _older, newer, _ = _older_and_newer(projector, "author")
    models = projector.redis
    key = models.k(Kind.TRAY_ENTRIES, "fan")
    entry = TrayEntry.from_json("author", models.client.hget(key, "author"))
    assert len(entry.stories) == 2
    old_form = b'{"s":"%s","t":%d,"x":%d,"th":null}' % (
        entry.latest_story_id.encode(), entry.latest_at, entry.expires_at)
    models.client.hset(key, "author", old_form)

    _view(projector, "fan", "author", newer)
    # The engagement fold leaves tray entries alone, so the old form is what the tray reads.
    assert models.client.hget(key, "author") == old_form
    assert _unseen(projector, "fan", to_ms(datetime.now(UTC))) == {"author": False}


@pytest.mark.parametrize("fanout_threshold", [10_000, 0], ids=["pushed", "celebrity"])
def test_a_tray_past_its_bound_says_it_left_authors_out(stores, fanout_threshold):
    projector = stores.fresh(fanout_threshold=fanout_threshold)
    authors = [f"author-{n:03}" for n in range(MAX_TRAY_AUTHORS + 1)]
    projector.apply_graph([("UserFollowed", schemas.new_event("UserFollowed", "fan",
                                                               followee_id=author))
                           for author in authors])
    now = to_ms(datetime.now(UTC))
    _post(projector, authors[0], minutes_ago=2, lifetime_seconds=3600)  # the oldest
    # Pushed entries are bounded by the stories in them; followed celebrities by their number.
    assert tray_of(projector, "fan", now).truncated is (fanout_threshold == 0)
    projector.apply_lifecycle([("StoryPosted", schemas.new_event(
        "StoryPosted", author, occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        story_id=str(uuid.uuid4()), kind="TEXT", text="hello", lifetime_seconds=3600))
        for author in authors[1:]])
    tray = tray_of(projector, "fan", now)
    assert tray.truncated is True and len(tray.items) == MAX_TRAY_AUTHORS
    if fanout_threshold:  # the least recent pushed entry is the one left out
        assert authors[0] not in {item.author_id for item in tray.items}


def tray_of(projector, viewer: str, now: int) -> Tray:
    return run(tray_plan(projector.redis, viewer, now), projector.redis.client)
