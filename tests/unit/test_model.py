"""The pure rules of the story read model: who may see what, and what a tray entry holds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from core.clock import to_ms
from projections.model import (
    READY,
    REJECTED,
    Story,
    TrayEntry,
    may_see,
    story_from_posted,
    tray_entry,
    with_media,
    with_rejection,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NOW_MS = to_ms(NOW)


def posted(author="author", kind="TEXT", mode="FOLLOWERS", ids=(), minutes_ago=10, **extra):
    fields = {"text": "hello"} if kind == "TEXT" else {"media_id": "upload-1"}
    record = schemas.new_event(
        "StoryPosted", actor_id=author, occurred_at=NOW - timedelta(minutes=minutes_ago),
        story_id=str(uuid.uuid4()), kind=kind, audience={"mode": mode, "user_ids": list(ids)},
        **fields, **extra,
    )
    return story_from_posted(record)


def test_text_story_is_ready_at_once_and_media_waits_for_processing():
    assert posted().status == READY
    assert posted(kind="IMAGE").status == "processing"


def test_media_outcomes_change_status():
    story = posted(kind="IMAGE")
    rendition = {"name": "thumbnail", "key": "k/thumb.jpg", "content_type": "image/jpeg",
                 "width": 150, "height": 100, "size_bytes": 10, "duration_ms": None}
    ready = with_media(story, {"renditions": [rendition]})
    assert ready.status == READY and ready.thumbnail_key == "k/thumb.jpg"
    rejected = with_rejection(story, {"reason": "The video is longer than 60 seconds."})
    assert rejected.status == REJECTED and "60 seconds" in rejected.rejection


@pytest.mark.parametrize(
    ("mode", "ids", "viewer", "follows", "expected"),
    [
        ("FOLLOWERS", (), "fan", True, True),
        ("FOLLOWERS", (), "stranger", False, False),
        ("FOLLOWERS_EXCEPT", ("excluded",), "excluded", True, False),
        ("FOLLOWERS_EXCEPT", ("excluded",), "fan", True, True),
        ("ONLY", ("chosen",), "chosen", False, True),
        ("ONLY", ("chosen",), "fan", True, False),
        ("CLOSE_FRIENDS", ("friend",), "friend", True, True),
        ("CLOSE_FRIENDS", ("friend",), "fan", True, False),
        ("FOLLOWERS", (), "author", False, True),
    ],
)
def test_audience_rules(mode, ids, viewer, follows, expected):
    assert may_see(posted(mode=mode, ids=ids), viewer, follows, NOW_MS) is expected


def test_expired_processing_and_rejected_stories_are_hidden_from_others():
    expired = posted(minutes_ago=25 * 60)
    assert not may_see(expired, "fan", True, NOW_MS)
    assert not may_see(expired, "author", False, NOW_MS)
    assert not may_see(posted(kind="VIDEO"), "fan", True, NOW_MS)
    assert may_see(posted(kind="VIDEO"), "author", False, NOW_MS)


def test_tray_entry_points_at_the_latest_visible_story_and_lives_as_long_as_the_last():
    older = posted(minutes_ago=60, lifetime_seconds=48 * 3600)
    newer = posted(minutes_ago=5, lifetime_seconds=3600)
    hidden = posted(minutes_ago=1, mode="CLOSE_FRIENDS", ids=("friend",))
    entry = tray_entry([older, newer, hidden], "fan", True, NOW_MS)
    assert entry.latest_story_id == newer.story_id
    assert entry.expires_at == older.expires_at
    assert tray_entry([hidden], "fan", True, NOW_MS) is None
    assert tray_entry([older], "author", True, NOW_MS) is None



def test_tray_entry_names_every_story_the_viewer_may_see_with_its_expiry():
    older = posted(minutes_ago=60, lifetime_seconds=48 * 3600)
    newer = posted(minutes_ago=5, lifetime_seconds=3600)
    hidden = posted(minutes_ago=1, mode="CLOSE_FRIENDS", ids=("friend",))
    entry = tray_entry([newer, hidden, older], "fan", True, NOW_MS)
    assert entry.stories == ((older.story_id, older.expires_at), (newer.story_id, newer.expires_at))
    friends = tray_entry([newer, hidden, older], "friend", True, NOW_MS)
    assert [story_id for story_id, _ in friends.stories] == [
        older.story_id, newer.story_id, hidden.story_id]


def test_only_live_stories_of_an_entry_decide_whether_it_is_unseen():
    older = posted(minutes_ago=60, lifetime_seconds=3600 + 60)
    newer = posted(minutes_ago=5)
    entry = tray_entry([older, newer], "fan", True, NOW_MS)
    assert entry.active_story_ids(NOW_MS) == [older.story_id, newer.story_id]
    assert entry.active_story_ids(NOW_MS + 120_000) == [newer.story_id]


def test_tray_entry_survives_its_json_form():
    entry = tray_entry([posted(minutes_ago=60), posted(minutes_ago=5)], "fan", True, NOW_MS)
    assert TrayEntry.from_json(entry.author_id, entry.to_json()) == entry


def test_a_tray_entry_stored_before_the_story_list_stands_for_its_latest_story():
    stored = b'{"s":"latest","t":1000,"x":90000,"th":null}'
    entry = TrayEntry.from_json("author", stored)
    assert (entry.latest_story_id, entry.expires_at, entry.stories) == ("latest", 90000, ())
    assert entry.active_story_ids(1000) == ["latest"]
    assert entry.active_story_ids(90000) == []
    assert TrayEntry.from_json("author", entry.to_json()) == entry

def test_story_survives_its_compact_json_form():
    story = posted(mode="ONLY", ids=("a", "b"), caption="sunset")
    assert Story.from_json(story.to_json()) == story
