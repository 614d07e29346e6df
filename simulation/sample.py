"""A small hand-written world and its activity, as events in log order: for the demo and tests.

Ten users whose graph is a `simulation.world.World` written out by hand (sent the way the
simulator sends its world's graph), then a scripted minute-by-minute story: posts for every
follower and for close friends, an image with a poll, views, reactions, a reply, poll answers,
a deletion and an unfollow. Tests assert on its exact outcome, so the script is fixed; only the
ids are fresh on each call.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from simulation.content import renditions
from simulation.events import Event, EventMaker, epoch_ms
from simulation.world import World, graph_events
from streams.topics import topic_for

__all__ = ["Scenario", "build_scenario", "by_topic", "sample_world"]

USERS = tuple(f"user-{i}" for i in range(10))
POLL = {"sticker_id": "poll-1", "kind": "POLL", "prompt": "Tea or coffee?",
        "options": ["tea", "coffee"], "correct_option": None, "emoji": None}


def sample_world() -> World:
    """Everyone follows user-0, three also follow user-1; user-0's close friends: 1 and 2."""
    follows = {user: ["user-0"] for user in USERS[1:]}
    for user in USERS[2:5]:
        follows[user].append("user-1")
    return World.of(USERS, follows, {"user-0": ["user-1", "user-2"]})


class Scenario:
    """Events plus the ids a test asserts on."""

    def __init__(self, start: datetime, tag: str):
        self.start = start
        self.tag = tag
        self.maker = EventMaker(random.Random(tag))
        self.events: list[Event] = []
        self.story_ids: dict[str, str] = {}

    def at(self, minutes: float) -> datetime:
        return self.start + timedelta(minutes=minutes)

    def add_world(self, world: World) -> None:
        """The world's follows and close friends, dated just before the scenario starts."""
        self.events.extend(graph_events(world, self.maker, epoch_ms(self.start)))

    def add(self, name: str, minutes: float, actor: str, **fields: Any) -> dict[str, Any]:
        event = self.maker.make(name, self.at(minutes), actor, **fields)
        self.events.append(event)
        return event[1]

    def post(self, label: str, minutes: float, author: str, **fields: Any) -> str:
        story_id = self.story_ids[label] = self.maker.new_id()
        fields.setdefault("kind", "TEXT")
        if fields["kind"] == "TEXT":
            fields.setdefault("text", f"story {label}")
        self.add("StoryPosted", minutes, author, story_id=story_id, **fields)
        return story_id


def build_scenario(now: datetime | None = None) -> Scenario:
    """Ten users, follows, close friends, text and image stories, engagement, a deletion."""
    now = now or datetime.now(UTC)
    s = Scenario(now - timedelta(hours=2), uuid.uuid4().hex)
    s.add_world(sample_world())
    s.post("public", 5, "user-0")
    s.post("friends", 6, "user-0", audience={"mode": "CLOSE_FRIENDS",
                                              "user_ids": ["user-1", "user-2"]})
    photo = s.post("photo", 7, "user-1", kind="IMAGE", media_id="upload-photo", stickers=[POLL])
    s.add("MediaProcessed", 8, "system", story_id=photo, media_id="upload-photo",
          media_kind="IMAGE", renditions=renditions(photo, "IMAGE", random.Random(s.tag)))
    doomed = s.post("doomed", 9, "user-0")
    _engage(s, doomed)
    s.add("StoryDeleted", 30, "user-0", story_id=doomed)
    s.add("UserUnfollowed", 31, "user-9", followee_id="user-0")
    return s


def _engage(s: Scenario, doomed: str) -> None:
    """Seven viewers of the public story, one of them twice; reactions, a reply, poll votes."""
    public, friends, photo = (s.story_ids[label] for label in ("public", "friends", "photo"))
    on_public = {"story_id": public, "author_id": "user-0"}
    for i, viewer in enumerate(USERS[1:8]):
        s.add("StoryViewed", 10 + i, viewer, **on_public)
    s.add("StoryViewed", 20, "user-2", **on_public)
    s.add("StoryViewed", 20.5, "user-2", story_id=friends, author_id="user-0")
    s.add("StoryReacted", 21, "user-2", emoji="🔥", **on_public)
    s.add("StoryReacted", 22, "user-2", emoji="😂", **on_public)
    s.add("StoryReacted", 23, "user-3", emoji="😂", **on_public)
    s.add("StoryReplied", 24, "user-4", message_id="m-1", **on_public)
    for voter, option in (("user-2", 0), ("user-3", 1), ("user-4", 1), ("user-2", 1)):
        s.add("StickerAnswered", 25, voter, story_id=photo, author_id="user-1",
              sticker_id="poll-1", option_index=option)
    s.add("StoryViewed", 26, "user-3", story_id=doomed, author_id="user-0")


def by_topic(events: list[Event]) -> dict[str, list[Event]]:
    """Split a log into its topics, keeping order within each."""
    split: dict[str, list[Event]] = {}
    for name, record in events:
        split.setdefault(topic_for(name).suffix, []).append((name, record))
    return split
