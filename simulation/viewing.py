"""How followers watch: sessions that come soon after a post, tap-through in order, engagement."""

from __future__ import annotations

import random
from collections.abc import Callable

from simulation.config import Mix
from simulation.content import REACTIONS, answer
from simulation.schedule import Schedule
from simulation.stories import SimStory, StoryBook
from simulation.world import World

__all__ = ["Viewing", "view_delay"]

HOUR = 3600.0


def view_delay(rng: random.Random, lifetime: int) -> float | None:
    """Most views come in the first hours after a post, then fewer and fewer; None: never."""
    draw = rng.random()
    if draw < 0.5:
        delay = rng.expovariate(1 / (0.6 * HOUR))
    elif draw < 0.85:
        delay = rng.expovariate(1 / (3 * HOUR))
    else:
        delay = rng.uniform(0, lifetime)
    return delay + 1 if delay < lifetime else None


class Viewing:
    """Plans viewing sessions for each new story and plays them out when they come."""

    def __init__(self, world: World, mix: Mix, rng: random.Random, schedule: Schedule,
                 book: StoryBook, event_ms: Callable[[], int]):
        self.world, self.mix, self.rng = world, mix, rng
        self.schedule, self.book, self.event_ms = schedule, book, event_ms
        self.last_seen: dict[tuple[int, int], float] = {}  # (viewer, author) -> posted

    def plan(self, story: SimStory) -> None:
        """Each follower in the audience may come by later; popular authors draw fewer each."""
        followers = self.world.followers[story.author]
        odds = self.mix.view * min(1.0, (100 / max(len(followers), 1)) ** 0.3)
        audience = story.audience if story.audience is not None else followers
        for viewer in sorted(audience - story.excluded):
            if self.rng.random() < odds:
                delay = view_delay(self.rng, story.lifetime)
                if delay is not None:
                    self.schedule.call(delay, self.session, (viewer, story.author))

    def session(self, pair: tuple[int, int]) -> None:
        """The viewer opens the author's stories and taps through the unseen ones in order."""
        viewer, author = pair
        if author not in self.world.following[viewer]:
            return
        offset = 0.0
        for story in self._unseen(viewer, author):
            self.last_seen[pair] = story.posted
            offset += self.rng.uniform(2, 8)
            self._engage(viewer, story, offset)
            if self.rng.random() < 0.12:
                break  # swiped away

    def _unseen(self, viewer: int, author: int) -> list[SimStory]:
        seen_until = self.last_seen.get((viewer, author), -1.0)
        live = self.book.live(author, self.schedule.now, self.event_ms())
        return [s for s in live
                if s.posted > seen_until and s.ready and s.may_be_seen_by(viewer)]

    def _engage(self, viewer: int, story: SimStory, offset: float) -> None:
        """A view, and sometimes a reaction, a reply or sticker answers."""
        mix, rng, emit = self.mix, self.rng, self.schedule.emit
        on = {"story_id": story.story_id, "author_id": self.world.user_ids[story.author]}
        emit(offset, "StoryViewed", viewer, **on)
        if rng.random() < mix.react:
            emit(offset + 1, "StoryReacted", viewer, emoji=rng.choice(REACTIONS), **on)
        if rng.random() < mix.reply:
            emit(offset + 2, "StoryReplied", viewer, message_id=None, **on)
        for sticker in story.stickers:
            if rng.random() < mix.answer:
                emit(offset + 1.5, "StickerAnswered", viewer, **answer(sticker, rng), **on)
