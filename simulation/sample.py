"""A small social world and its activity, as events in log order: for the demo and tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from streams.topics import topic_for

__all__ = ["Scenario", "build_scenario", "by_topic"]

Event = tuple[str, dict[str, Any]]


def _id(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


class Scenario:
    """Events plus the ids a test asserts on."""

    def __init__(self, start: datetime, tag: str):
        self.start = start
        self.tag = tag
        self.events: list[Event] = []
        self.story_ids: dict[str, str] = {}

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def add(self, name: str, minutes: float, actor: str, **fields: Any) -> dict[str, Any]:
        event_id = _id(f"{self.tag}-{name}-{len(self.events)}-{actor}")
        record = schemas.new_event(name, actor_id=actor, occurred_at=self.at(minutes),
                                   event_id=event_id, **fields)
        self.events.append((name, record))
        return record

    def post(self, label: str, minutes: float, author: str, **fields: Any) -> str:
        story_id = _id(f"{self.tag}-{label}")
        self.story_ids[label] = story_id
        fields.setdefault("kind", "TEXT")
        if fields["kind"] == "TEXT":
            fields.setdefault("text", f"story {label}")
        self.add("StoryPosted", minutes, author, story_id=story_id, **fields)
        return story_id


def build_scenario(now: datetime | None = None) -> Scenario:
    """Ten users, follows, close friends, text and image stories, engagement, a deletion."""
    now = now or datetime.now(UTC)
    s = Scenario(now - timedelta(hours=2), uuid.uuid4().hex)
    users = [f"user-{i}" for i in range(10)]
    for follower in users[1:]:
        s.add("UserFollowed", 0, follower, followee_id="user-0")
    for follower in users[2:5]:
        s.add("UserFollowed", 1, follower, followee_id="user-1")
    s.add("CloseFriendsChanged", 2, "user-0", close_friend_ids=["user-1", "user-2"])
    s.post("public", 5, "user-0")
    s.post("friends", 6, "user-0", audience={"mode": "CLOSE_FRIENDS",
                                              "user_ids": ["user-1", "user-2"]})
    photo = s.post("photo", 7, "user-1", kind="IMAGE", media_id="upload-photo",
                   stickers=[{"sticker_id": "poll-1", "kind": "POLL", "prompt": "Tea or coffee?",
                              "options": ["tea", "coffee"], "correct_option": None,
                              "emoji": None}])
    s.add("MediaProcessed", 8, "system", story_id=photo, media_id="upload-photo",
          media_kind="IMAGE", renditions=[
              {"name": "full", "key": f"{photo}/full.jpg", "content_type": "image/jpeg",
               "width": 1080, "height": 720, "size_bytes": 120_000, "duration_ms": None},
              {"name": "thumbnail", "key": f"{photo}/thumb.jpg", "content_type": "image/jpeg",
               "width": 150, "height": 100, "size_bytes": 6_000, "duration_ms": None}])
    doomed = s.post("doomed", 9, "user-0")
    for i, viewer in enumerate(users[1:8]):
        s.add("StoryViewed", 10 + i, viewer, story_id=s.story_ids["public"], author_id="user-0")
    s.add("StoryViewed", 20, "user-2", story_id=s.story_ids["public"], author_id="user-0")
    s.add("StoryViewed", 20.5, "user-2", story_id=s.story_ids["friends"], author_id="user-0")
    s.add("StoryReacted", 21, "user-2", story_id=s.story_ids["public"], author_id="user-0",
          emoji="🔥")
    s.add("StoryReacted", 22, "user-2", story_id=s.story_ids["public"], author_id="user-0",
          emoji="😂")
    s.add("StoryReacted", 23, "user-3", story_id=s.story_ids["public"], author_id="user-0",
          emoji="😂")
    s.add("StoryReplied", 24, "user-4", story_id=s.story_ids["public"], author_id="user-0",
          message_id="m-1")
    for voter, option in (("user-2", 0), ("user-3", 1), ("user-4", 1), ("user-2", 1)):
        s.add("StickerAnswered", 25, voter, story_id=photo, author_id="user-1",
              sticker_id="poll-1", option_index=option)
    s.add("StoryViewed", 26, "user-3", story_id=doomed, author_id="user-0")
    s.add("StoryDeleted", 30, "user-0", story_id=doomed)
    s.add("UserUnfollowed", 31, "user-9", followee_id="user-0")
    return s


def by_topic(events: list[Event]) -> dict[str, list[Event]]:
    """Split a log into its topics, keeping order within each."""
    split: dict[str, list[Event]] = {}
    for name, record in events:
        split.setdefault(topic_for(name).suffix, []).append((name, record))
    return split
