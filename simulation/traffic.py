"""Seeded traffic for the fault scenarios, and what the read models must show after it."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas

__all__ = ["Traffic", "make_traffic", "Expected"]

EMOJIS = ("🔥", "😂", "😍", "👏", "😮")
Event = tuple[str, dict[str, Any]]


@dataclass
class Expected:
    """Exact aggregates implied by the log, computed without the projections."""

    views: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    viewers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reactions: dict[str, dict[str, tuple[datetime, str]]] = field(
        default_factory=lambda: defaultdict(dict))

    def reaction_counts(self, story_id: str) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for _, emoji in self.reactions[story_id].values():
            counts[emoji] += 1
        return dict(counts)


@dataclass
class Traffic:
    """A social graph, stories, then engagement, as events in log order."""

    events: list[Event]
    stories: dict[str, str]  # story -> author
    expected: Expected


def _event(rng: random.Random, name: str, actor: str, at: datetime, **fields: Any) -> Event:
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return name, schemas.new_event(name, actor_id=actor, occurred_at=at, event_id=event_id,
                                   **fields)


def make_traffic(seed: int, users: int = 40, stories: int = 20, views: int = 2000) -> Traffic:
    """Follows, text stories, then views and reactions drawn from a seeded generator."""
    rng = random.Random(seed)
    tag = f"r{seed}-"
    people = [f"{tag}u{i}" for i in range(users)]
    start = datetime.now(UTC) - timedelta(hours=1)
    events: list[Event] = []
    for follower in people:
        for followee in rng.sample(people, k=min(8, users - 1)):
            if followee != follower:
                events.append(_event(rng, "UserFollowed", follower, start, followee_id=followee))
    authors: dict[str, str] = {}
    for i in range(stories):
        author = rng.choice(people)
        story_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        authors[story_id] = author
        events.append(_event(rng, "StoryPosted", author, start + timedelta(seconds=i),
                             story_id=story_id, kind="TEXT", text=f"story {i}"))
    expected = Expected()
    story_ids = list(authors)
    for i in range(views):
        story_id = rng.choice(story_ids)
        viewer = rng.choice([p for p in people if p != authors[story_id]])
        at = start + timedelta(minutes=1, milliseconds=i)
        name, record = _event(rng, "StoryViewed", viewer, at, story_id=story_id,
                              author_id=authors[story_id])
        events.append((name, record))
        expected.views[story_id].add(record["event_id"])
        expected.viewers[story_id].add(viewer)
        if rng.random() < 0.2:
            emoji = rng.choice(EMOJIS)
            events.append(_event(rng, "StoryReacted", viewer, at, story_id=story_id,
                                 author_id=authors[story_id], emoji=emoji))
            previous = expected.reactions[story_id].get(viewer)
            if previous is None or previous[0] <= at:
                expected.reactions[story_id][viewer] = (at, emoji)
    return Traffic(events, authors, expected)
