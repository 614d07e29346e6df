"""The stories a simulation remembers while they can still be seen, deleted or kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SimStory", "StoryBook"]


@dataclass
class SimStory:
    """What the simulation knows of a story; media readiness, deletion and expiry change."""

    story_id: str
    author: int
    posted: float  # simulated time
    lifetime: int
    expires_ms: int  # event time at which the read models let it go
    kind: str
    audience: frozenset[int] | None  # None: every follower
    excluded: frozenset[int] = frozenset()
    stickers: tuple[dict[str, Any], ...] = ()
    ready: bool = True
    deleted: bool = False

    def may_be_seen_by(self, viewer: int) -> bool:
        """The audience rule: close friends only, or every follower but the excluded."""
        if self.audience is not None:
            return viewer in self.audience
        return viewer not in self.excluded

    def is_active(self, now: float, now_ms: int) -> bool:
        """Still up both in simulated time and in event time (which backdating brings closer)."""
        if self.deleted or now >= self.posted + self.lifetime:
            return False
        return self.expires_ms == 0 or now_ms < self.expires_ms


class StoryBook:
    """Stories by id, and each author's in posting order; gone ones are forgotten lazily."""

    def __init__(self) -> None:
        self._stories: dict[str, SimStory] = {}
        self._by_author: dict[int, list[str]] = {}

    def add(self, story: SimStory) -> None:
        self._stories[story.story_id] = story
        self._by_author.setdefault(story.author, []).append(story.story_id)

    def __getitem__(self, story_id: str) -> SimStory:
        return self._stories[story_id]

    def find(self, story_id: str) -> SimStory | None:
        """The story if it is still remembered and not deleted."""
        story = self._stories.get(story_id)
        return None if story is None or story.deleted else story

    def live(self, author: int, now: float, now_ms: int) -> list[SimStory]:
        """The author's stories still up, oldest first, forgetting the rest."""
        ids = self._by_author.get(author, [])
        live = [s for s in ids if self._stories[s].is_active(now, now_ms)]
        for gone in set(ids) - set(live):
            del self._stories[gone]
        self._by_author[author] = live
        return [self._stories[s] for s in live]
