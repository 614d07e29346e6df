"""What becomes of a story besides expiring: deleted by its author, or kept in a highlight."""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulation.config import Mix
from simulation.content import TITLES
from simulation.events import EventMaker
from simulation.schedule import Schedule
from simulation.stories import SimStory, StoryBook

__all__ = ["Fates", "Highlight"]


@dataclass
class Highlight:
    """A user's highlight as the simulation knows it; renamed and edited as it goes."""

    highlight_id: str
    title: str
    story_ids: list[str]


class Fates:
    """Decides each story's fate when it is posted and carries it out later."""

    def __init__(self, mix: Mix, rng: random.Random, schedule: Schedule, book: StoryBook,
                 maker: EventMaker):
        self.mix, self.rng, self.schedule, self.book, self.maker = mix, rng, schedule, book, maker
        self.highlights: dict[int, list[Highlight]] = {}  # by owner

    def plan(self, story: SimStory) -> None:
        """A few stories are deleted before they expire, a few more kept in a highlight."""
        draw, mix = self.rng.random(), self.mix
        if draw < mix.delete:
            self.schedule.call(self.rng.uniform(0.05, 0.8) * story.lifetime, self.delete,
                               story.story_id)
        elif draw < mix.delete + mix.highlight:
            self.schedule.call(self.rng.uniform(0.1, 0.9) * story.lifetime, self.highlight,
                               story.story_id)

    def delete(self, story_id: str) -> None:
        story = self.book.find(story_id)
        if story is None:
            return
        story.deleted = True
        self.schedule.emit(0, "StoryDeleted", story.author, story_id=story_id)

    def highlight(self, story_id: str) -> None:
        """Keep the story in a highlight: a new one, or appended to an existing one."""
        story = self.book.find(story_id)
        if story is None:
            return
        owned = self.highlights.setdefault(story.author, [])
        if not owned or self.rng.random() < 0.2:
            self._create(story, owned)
            return
        chosen = self.rng.choice(owned)
        chosen.story_ids.append(story_id)
        self.schedule.emit(0, "HighlightStoryAdded", story.author,
                           highlight_id=chosen.highlight_id, story_id=story_id)
        self._maybe_edit(story.author, chosen, owned)

    def _create(self, story: SimStory, owned: list[Highlight]) -> None:
        created = Highlight(self.maker.new_id(), self.rng.choice(TITLES), [story.story_id])
        owned.append(created)
        self.schedule.emit(0, "HighlightCreated", story.author,
                           highlight_id=created.highlight_id, title=created.title,
                           story_ids=list(created.story_ids))

    def _maybe_edit(self, owner: int, highlight: Highlight, owned: list[Highlight]) -> None:
        """Now and then a rename, a story taken out, or a highlight deleted."""
        draw, hid, emit = self.rng.random(), highlight.highlight_id, self.schedule.emit
        if draw < 0.1:
            highlight.title = self.rng.choice(TITLES)
            emit(1, "HighlightUpdated", owner, highlight_id=hid, title=highlight.title,
                 story_ids=None)
        elif draw < 0.2 and len(highlight.story_ids) > 1:
            removed = highlight.story_ids.pop(0)
            emit(1, "HighlightStoryRemoved", owner, highlight_id=hid, story_id=removed)
        elif draw < 0.23:
            owned.remove(highlight)
            emit(1, "HighlightDeleted", owner, highlight_id=hid)
