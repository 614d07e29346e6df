"""Seeded traffic for the fault scenarios, and what the read models must show after it.

A small simulated world (`simulation.world`: power-law follows, close friends, posting habits)
sends its graph, then text stories by authors drawn by posting habit, then a dense run of views
and emoji reactions by the authors' followers. On request, some stories have the shortest
lifetime and are dated to expire a given number of seconds after the traffic is made, and some
are deleted in the middle of their views. `Expected` is folded from the log itself, without the
projections.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.rules import MIN_LIFETIME_SECONDS
from simulation.config import SimulationConfig
from simulation.events import Event, EventMaker, epoch_ms
from simulation.world import World, build_world, graph_events

__all__ = ["EMOJIS", "Expected", "Traffic", "make_traffic"]

EMOJIS = ("🔥", "😂", "😍", "👏", "😮")
REACTION_SHARE = 0.2  # of views followed by a reaction
MEAN_FOLLOWING = 8.0
MAX_EXPIRE_AFTER = MIN_LIFETIME_SECONDS / 2  # later, the traffic's events would be in the future


@dataclass
class Expected:
    """Exact aggregates implied by the log, as the read models must show them.

    A deleted story shows no counters at all (views after its deletion are ignored, the rest
    cleared); an expired one keeps its counters but leaves the story lists.
    """

    views: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    viewers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reactions: dict[str, dict[str, tuple[datetime, str]]] = field(
        default_factory=lambda: defaultdict(dict))
    expires_at: dict[str, datetime] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, events: Iterable[Event]) -> Expected:
        """Fold a log: posts, deletions, views and each viewer's latest reaction."""
        expected = cls()
        for name, record in events:
            expected._fold(name, record)
        for story_id in expected.deleted:
            for tally in (expected.views, expected.viewers, expected.reactions):
                tally.pop(story_id, None)
        return expected

    def _fold(self, name: str, record: dict[str, Any]) -> None:
        story_id = record.get("story_id", "")
        if name == "StoryPosted":
            self.expires_at[story_id] = record["expires_at"]
        elif name == "StoryDeleted":
            self.deleted.add(story_id)
        elif name == "StoryViewed":
            self.views[story_id].add(record["event_id"])
            self.viewers[story_id].add(record["actor_id"])
        elif name == "StoryReacted":
            self._react(story_id, record["actor_id"], record["occurred_at"], record["emoji"])

    def _react(self, story_id: str, viewer: str, at: datetime, emoji: str) -> None:
        """A viewer's reaction replaces their earlier one; the later in the log wins a tie."""
        previous = self.reactions[story_id].get(viewer)
        if previous is None or previous[0] <= at:
            self.reactions[story_id][viewer] = (at, emoji)

    def reaction_counts(self, story_id: str) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for _, emoji in self.reactions[story_id].values():
            counts[emoji] += 1
        return dict(counts)

    def listed(self, story_id: str, at: datetime) -> bool:
        """Whether the story lists and trays must still hold the story at `at`."""
        expires = self.expires_at.get(story_id)
        return story_id not in self.deleted and expires is not None and at < expires


@dataclass
class Traffic:
    """A social graph, stories, then engagement, as events in log order."""

    events: list[Event]
    stories: dict[str, str]  # story -> author
    expected: Expected
    ending: dict[str, str] = field(default_factory=dict)  # story -> author: expires or is
    # deleted during the run (a subset of `stories`)

    def last_expiry(self) -> datetime | None:
        """When the last story that expires during the run runs out."""
        ends = [self.expected.expires_at[s] for s in self.ending if s not in self.expected.deleted]
        return max(ends, default=None)


@dataclass(frozen=True)
class _Plan:
    """What one traffic is made of, checked before anything is drawn."""

    seed: int
    users: int
    stories: int
    views: int
    expiring: int
    expire_after: float
    expire_every: float
    deleted: int
    now: datetime

    def __post_init__(self) -> None:
        if self.expiring < 0 or self.deleted < 0 or self.expiring + self.deleted > self.stories:
            raise ValueError("expiring and deleted stories are among `stories`, not beyond")
        if self.expiring and not self._expiries_fit():
            raise ValueError("expiring stories must run out between now and "
                             f"{MAX_EXPIRE_AFTER:.0f} seconds from now")
        if self.now.tzinfo is None:
            raise ValueError("now needs a timezone")

    def _expiries_fit(self) -> bool:
        last = self.expire_after + (self.expiring - 1) * self.expire_every
        return self.expire_after > 0 and self.expire_every >= 0 and last <= MAX_EXPIRE_AFTER

    @property
    def start(self) -> datetime:
        """An hour before now: old enough for the views, young enough for every story."""
        return self.now - timedelta(hours=1)


class _Writer:
    """Draws the traffic's stories and engagement from one seeded generator, in log order."""

    def __init__(self, plan: _Plan, world: World):
        self.plan, self.world = plan, world
        self.rng = random.Random(f"traffic-{plan.seed}")
        self.maker = EventMaker(random.Random(f"traffic-ids-{plan.seed}"))
        self.events: list[Event] = list(graph_events(world, self.maker, epoch_ms(plan.start)))
        self.authors: dict[str, int] = {}  # story -> author, in posting order
        self.audiences: dict[int, list[int]] = {}  # author -> who may view their stories

    def post(self, index: int) -> datetime:
        """Story `index`; the first `expiring` live an hour, timed to run out during the run."""
        plan, ids = self.plan, self.world.user_ids
        author = self.rng.choices(range(plan.users), weights=self.world.posts_per_day)[0]
        story_id = self.maker.new_id()
        self.authors[story_id] = author
        at, lifetime = plan.start + timedelta(seconds=index), {}
        if index < plan.expiring:
            left = plan.expire_after + index * plan.expire_every
            at = plan.now + timedelta(seconds=left - MIN_LIFETIME_SECONDS)
            lifetime = {"lifetime_seconds": MIN_LIFETIME_SECONDS}
        self.events.append(self.maker.make("StoryPosted", at, ids[author], story_id=story_id,
                                           kind="TEXT", text=f"story {index}", **lifetime))
        return at

    def engagement(self, start: datetime) -> None:
        """One view per millisecond from `start`; the doomed stories deleted on the way."""
        doomed = self._doomed()
        story_ids = list(self.authors)
        for i in range(self.plan.views):
            at = start + timedelta(milliseconds=i)
            for story_id in doomed.pop(i, ()):
                self.delete(story_id, at)
            self.view(at, story_ids)
        end = start + timedelta(milliseconds=self.plan.views)
        for story_id in (s for late in doomed.values() for s in late):  # too few views
            self.delete(story_id, end)

    def _doomed(self) -> dict[int, list[str]]:
        """Stories to delete, by the view they are deleted just before (mid-way through)."""
        ordinary = list(self.authors)[self.plan.expiring:]
        low = self.plan.views // 4
        high = max(low, self.plan.views * 3 // 4 - 1)
        by_view: dict[int, list[str]] = defaultdict(list)
        for story_id in self.rng.sample(ordinary, self.plan.deleted):
            by_view[self.rng.randint(low, high)].append(story_id)
        return by_view

    def delete(self, story_id: str, at: datetime) -> None:
        author = self.world.user_ids[self.authors[story_id]]
        self.events.append(self.maker.make("StoryDeleted", at, author, story_id=story_id))

    def view(self, at: datetime, story_ids: list[str]) -> None:
        """A follower of the story's author views it (anyone else if it has no follower)."""
        story_id = self.rng.choice(story_ids)
        author = self.authors[story_id]
        viewer = self.rng.choice(self._audience(author))
        ids = self.world.user_ids
        on = {"story_id": story_id, "author_id": ids[author]}
        self.events.append(self.maker.make("StoryViewed", at, ids[viewer], **on))
        if self.rng.random() < REACTION_SHARE:
            self.events.append(self.maker.make("StoryReacted", at, ids[viewer],
                                               emoji=self.rng.choice(EMOJIS), **on))

    def _audience(self, author: int) -> list[int]:
        if author not in self.audiences:
            followers = sorted(self.world.followers[author])
            anyone = [u for u in range(self.plan.users) if u != author]
            self.audiences[author] = followers or anyone
        return self.audiences[author]


def make_traffic(seed: int, users: int = 40, stories: int = 20, views: int = 2000, *,
                 expiring: int = 0, expire_after: float = 30.0, expire_every: float = 0.0,
                 deleted: int = 0, now: datetime | None = None) -> Traffic:
    """Follows, text stories, then views and reactions, all drawn from the seed.

    Of the `stories`, the first `expiring` have a one-hour lifetime and run out `expire_after`
    seconds after `now` (default: the moment of the call), the next `expire_every` seconds
    later, and so on; `deleted` others are deleted in the middle of the views, which go on
    arriving after it. Both are listed in `Traffic.ending`.
    """
    moment = now or datetime.now(UTC)
    plan = _Plan(seed, users, stories, views, expiring, expire_after, expire_every, deleted,
                 moment.replace(microsecond=moment.microsecond // 1000 * 1000))
    world = build_world(SimulationConfig(users=users, seed=seed, start=plan.start,
                                         mean_following=MEAN_FOLLOWING, events=0))
    writer = _Writer(plan, world)
    last_post = max((writer.post(i) for i in range(stories)), default=plan.start)
    writer.engagement(max(plan.start + timedelta(minutes=1), last_post + timedelta(seconds=1)))
    authors = {story_id: world.user_ids[a] for story_id, a in writer.authors.items()}
    expected = Expected.of(writer.events)
    ending = set(list(authors)[:expiring]) | expected.deleted
    return Traffic(writer.events, authors, expected,
                   {s: author for s, author in authors.items() if s in ending})
