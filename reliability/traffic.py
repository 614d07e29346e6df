"""The fault scenarios' traffic: the seeded simulation traffic, plus stories that end mid-run.

A few stories expire while the scenario runs (one-hour stories back-dated to run out seconds
after the traffic starts) and a few are deleted by their authors part-way through their views,
so the comparison with a replay covers expiry and deletion as well as counting.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from reliability.outcome import Size
from simulation.traffic import EMOJIS, Expected, make_traffic

__all__ = ["ScenarioTraffic", "scenario_traffic"]

Event = tuple[str, dict[str, Any]]
HOUR = 3600
EXPIRE_AFTER_SECONDS = 20.0  # after the traffic is made: the workers are up, the run goes on
EXPIRY_SPACING_SECONDS = 2
VIEWS_PER_ENDING = 12


@dataclass(frozen=True)
class ScenarioTraffic:
    """Events in log order, and what the read models must show once they are all in."""

    events: list[Event]
    active: dict[str, str]  # story -> author: still up at the end, counted exactly
    expected: Expected  # the counters of the active stories
    ended: dict[str, str]  # story -> author: expired or deleted during the run, must be gone
    expiring: frozenset[str]  # the ended stories that run out rather than being deleted
    last_expiry: float  # epoch seconds when the last expiring story runs out
    size_label: str

    def label(self, expired_by_timer: int) -> str:
        """The load, with how many expiring stories the expiry timer took down."""
        deleted = len(self.ended) - len(self.expiring)
        return (f"{self.size_label}, {len(self.expiring)} expiring ({expired_by_timer} by the "
                f"timer) and {deleted} deleted mid-run")

    def part(self, start: int, stop: int | None = None) -> ScenarioTraffic:
        """The same traffic with only a slice of its events (sent in several goes)."""
        return replace(self, events=self.events[start:stop])


@dataclass(frozen=True)
class _Ending:
    """A story that ends during the run, with the events that make it and end it."""

    story_id: str
    author: str
    post: Event
    views: list[Event]
    deletion: Event | None


def _event(rng: random.Random, name: str, actor: str, at: datetime, **fields: Any) -> Event:
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return name, schemas.new_event(name, actor_id=actor, occurred_at=at, event_id=event_id,
                                   **fields)


def _engagement(rng: random.Random, people: list[str], story_id: str, author: str,
                posted: datetime) -> list[Event]:
    """Views (and a reaction now and then) within the story's first minute."""
    events = []
    for i in range(VIEWS_PER_ENDING):
        viewer = rng.choice([p for p in people if p != author])
        at = posted + timedelta(seconds=1, milliseconds=10 * i)
        events.append(_event(rng, "StoryViewed", viewer, at, story_id=story_id, author_id=author))
        if rng.random() < 0.3:
            events.append(_event(rng, "StoryReacted", viewer, at, story_id=story_id,
                                 author_id=author, emoji=rng.choice(EMOJIS)))
    return events


def _ending(rng: random.Random, people: list[str], posted: datetime, deleted: bool) -> _Ending:
    author = rng.choice(people)
    story_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    post = _event(rng, "StoryPosted", author, posted, story_id=story_id, kind="TEXT",
                  text="ends during the run", lifetime_seconds=HOUR)
    views = _engagement(rng, people, story_id, author, posted)
    deletion = (_event(rng, "StoryDeleted", author, posted + timedelta(minutes=1),
                       story_id=story_id) if deleted else None)
    return _Ending(story_id, author, post, views, deletion)


def _endings(rng: random.Random, people: list[str], count: int, first_expiry: datetime
             ) -> list[_Ending]:
    """`count` stories that expire one after another, then `count` that will be deleted."""
    expiring = [_ending(rng, people, _posted_to_expire(first_expiry, i), deleted=False)
                for i in range(count)]
    now = datetime.now(UTC)
    deleted = [_ending(rng, people, now - timedelta(minutes=5), deleted=True) for _ in range(count)]
    return expiring + deleted


def _posted_to_expire(first_expiry: datetime, index: int) -> datetime:
    """A one-hour story posted so long ago that it runs out `index` spacings after the first."""
    return first_expiry - timedelta(seconds=HOUR - index * EXPIRY_SPACING_SECONDS)


def _woven(rng: random.Random, events: list[Event], endings: list[_Ending]) -> list[Event]:
    """The endings' posts before the first view; their views, and the deletions, among the
    views (a deletion in the middle third, so some of its views arrive after it)."""
    first_view = next(i for i, (name, _) in enumerate(events) if name == "StoryViewed")
    tail = list(events[first_view:])
    for ending in endings:
        for view in ending.views:
            tail.insert(rng.randrange(len(tail) + 1), view)
    for ending in endings:
        if ending.deletion is not None:
            tail.insert(rng.randrange(len(tail) // 3, 2 * len(tail) // 3 + 1), ending.deletion)
    return [*events[:first_view], *(e.post for e in endings), *tail]


def scenario_traffic(seed: int, size: Size, expire_after: float = EXPIRE_AFTER_SECONDS
                     ) -> ScenarioTraffic:
    """The seeded traffic of this size, with `size.endings` stories expiring (the first
    `expire_after` seconds from now) and as many deleted."""
    first_expiry = datetime.now(UTC) + timedelta(seconds=expire_after)
    base = make_traffic(seed, size.users, size.stories, size.views)
    rng = random.Random(f"endings-{seed}")
    people = sorted({record["actor_id"] for name, record in base.events if name == "UserFollowed"})
    endings = _endings(rng, people, size.endings, first_expiry)
    last = _posted_to_expire(first_expiry, size.endings - 1) + timedelta(seconds=HOUR)
    return ScenarioTraffic(_woven(rng, base.events, endings), dict(base.stories), base.expected,
                           {e.story_id: e.author for e in endings},
                           frozenset(e.story_id for e in endings if e.deletion is None),
                           last.timestamp(), size.label)
