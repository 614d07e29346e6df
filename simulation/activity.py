"""The world's activity as a discrete-event simulation, yielding valid events in log order.

Posts (text, image, video, with stickers) arrive as one Poisson process over the world, each
author as often as their habit says; media finishes processing a little later; followers come
by in sessions (`simulation.viewing`); some stories are deleted or kept in highlights
(`simulation.fates`); the graph keeps changing (`simulation.churn`).

Simulated time only orders the events. Event i of the activity is dated `start + i / rate`, so a
run sent at its target rate stays on the wall clock however many simulated hours it covers; the
world's graph comes first, dated just before `start`.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from simulation.churn import Churn
from simulation.config import SimulationConfig
from simulation.content import TEXTS, processed, stickers
from simulation.events import Event, EventMaker, epoch_ms
from simulation.fates import Fates
from simulation.schedule import PendingEvent, Schedule
from simulation.stories import SimStory, StoryBook
from simulation.viewing import Viewing, view_delay
from simulation.world import World, build_world, graph_count, graph_events

__all__ = ["Simulation"]

DAY = 86_400.0
LIFETIMES, LIFETIME_WEIGHTS = (86_400, 43_200, 172_800), (90, 5, 5)
MEDIA_SECONDS = {"IMAGE": 5, "VIDEO": 25}  # mean processing time


class Simulation:
    """The world plus a discrete-event simulation of its activity, yielding events in order."""

    def __init__(self, config: SimulationConfig, world: World | None = None):
        self.config = config
        self.world = world or build_world(config)
        self.rng = random.Random(f"activity-{config.seed}")
        self.start_ms = epoch_ms(config.start)
        # Ids depend on the start too: a second run of the same world gets fresh ids.
        self.maker = EventMaker(random.Random(f"ids-{config.seed}-{self.start_ms}"))
        self.emitted = 0
        self.schedule = Schedule()
        self.book = StoryBook()
        self.post_cum = list(itertools.accumulate(self.world.posts_per_day))
        self.kinds, self.kind_cum = config.mix.kinds()
        self.viewing = Viewing(self.world, config.mix, self.rng, self.schedule, self.book,
                               self.event_ms)
        self.fates = Fates(config.mix, self.rng, self.schedule, self.book, self.maker)
        self.churn = Churn(config, self.world, self.rng, self.schedule)

    # -- the stream ------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """The graph (when configured), then exactly `config.events` activity events."""
        if self.config.graph:
            yield from self.graph_events()
        yield from itertools.islice(self.activity(), self.config.events)

    def graph_count(self) -> int:
        """How many events the world's graph takes."""
        return graph_count(self.world)

    def graph_events(self) -> Iterator[Event]:
        """Every follow, then every close-friends list, dated in the moments before `start`."""
        return graph_events(self.world, self.maker, self.start_ms)

    def activity(self) -> Iterator[Event]:
        """An endless stream of activity, in simulated-time order, dated at the target rate."""
        self.schedule.call(self._next_post_delay(), self._post)
        self.churn.start()
        while True:
            due = self.schedule.advance()
            if due is not None:
                yield self._dated(due)

    def event_ms(self) -> int:
        """Event time of the next activity event."""
        return self.start_ms + int(self.emitted * 1000 // self.config.rate)

    def _dated(self, due: PendingEvent) -> Event:
        """Date an activity event by its position in the stream."""
        at = self.event_ms()
        self.emitted += 1
        if due.name == "StoryPosted":
            at = self._posted_at(at, due.fields["story_id"])
        return self.maker.make(due.name, at, self.world.user_ids[due.actor], **due.fields)

    def _posted_at(self, at: int, story_id: str) -> int:
        """With backdating, a story is dated so that it expires `backdate` s after it is sent."""
        backdate = self.config.backdate
        story = self.book[story_id]
        if backdate is None:
            story.expires_ms = at + story.lifetime * 1000
            return at
        story.expires_ms = at + int(backdate * 1000)
        return story.expires_ms - story.lifetime * 1000

    def _view_delay(self, lifetime: int) -> float | None:
        """How long after a post a follower comes by (None: not before it expires)."""
        return view_delay(self.rng, lifetime)

    # -- posting ---------------------------------------------------------------------------------
    def _next_post_delay(self) -> float:
        """Posts of the whole world arrive as one Poisson process."""
        return self.rng.expovariate(self.post_cum[-1] / DAY)

    def _post(self, _: None) -> None:
        """An author, drawn by posting habit, posts; views, media and fate follow later."""
        self.schedule.call(self._next_post_delay(), self._post)
        author = bisect_left(self.post_cum, self.rng.random() * self.post_cum[-1])
        story = self._new_story(author)
        self.book.add(story)
        self.schedule.emit(0, "StoryPosted", author, **self._posted_fields(story))
        if not story.ready and self.config.simulate_media:
            delay = self.rng.expovariate(1 / MEDIA_SECONDS[story.kind])
            self.schedule.call(delay, self._media_ready, story.story_id)
        self.viewing.plan(story)
        self.fates.plan(story)

    def _new_story(self, author: int) -> SimStory:
        rng = self.rng
        kind = self.kinds[bisect_left(self.kind_cum, rng.random() * self.kind_cum[-1])]
        audience, excluded = self._audience(author)
        lifetime = rng.choices(LIFETIMES, weights=LIFETIME_WEIGHTS)[0]
        made = stickers(rng) if rng.random() < self.config.mix.stickers else ()
        return SimStory(self.maker.new_id(), author, self.schedule.now, lifetime, 0, kind,
                        audience, excluded, made, ready=kind == "TEXT")

    def _audience(self, author: int) -> tuple[frozenset[int] | None, frozenset[int]]:
        """Mostly every follower; sometimes close friends only, or followers but a few."""
        draw, mix = self.rng.random(), self.config.mix
        friends = self.world.close_friends[author]
        if draw < mix.close_friends and friends:
            return frozenset(friends), frozenset()
        followers = self.world.followers[author]
        if draw < mix.close_friends + mix.hide_from and len(followers) > 3:
            hidden = self.rng.sample(sorted(followers), self.rng.randint(1, 3))
            return None, frozenset(hidden)
        return None, frozenset()

    def _posted_fields(self, story: SimStory) -> dict[str, Any]:
        text = self.rng.choice(TEXTS) if story.kind == "TEXT" else None
        return {
            "story_id": story.story_id, "kind": story.kind, "text": text,
            "media_id": None if story.kind == "TEXT" else f"sim-{story.story_id}",
            "caption": None, "audience": self._audience_field(story),
            "stickers": list(story.stickers), "lifetime_seconds": story.lifetime,
        }

    def _audience_field(self, story: SimStory) -> dict[str, Any]:
        ids = self.world.user_ids
        if story.audience is not None:
            return {"mode": "CLOSE_FRIENDS", "user_ids": [ids[u] for u in sorted(story.audience)]}
        if story.excluded:
            return {"mode": "FOLLOWERS_EXCEPT", "user_ids": [ids[u] for u in sorted(story.excluded)]}
        return {"mode": "FOLLOWERS", "user_ids": []}

    def _media_ready(self, story_id: str) -> None:
        """The media agent's report for an image or video story not deleted meanwhile."""
        story = self.book.find(story_id)
        if story is None:
            return
        story.ready = True
        fields = processed(story.story_id, f"sim-{story.story_id}", story.kind, self.rng)
        self.schedule.emit(0, "MediaProcessed", story.author, **fields)
