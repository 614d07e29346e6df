"""What a simulated run depends on: the world's size and shape, the activity's mix, its dating."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime

from schemas.rules import MIN_LIFETIME_SECONDS

__all__ = ["Mix", "SimulationConfig"]


@dataclass(frozen=True)
class Mix:
    """What the activity is made of: shares of story kinds and per-view engagement odds."""

    text: float = 0.5
    image: float = 0.35
    video: float = 0.15
    stickers: float = 0.25  # stories carrying at least one sticker
    close_friends: float = 0.08  # stories for the close-friends list only
    hide_from: float = 0.04  # stories for followers except a few
    view: float = 0.5  # a follower of an ordinary author watches a new story
    react: float = 0.04  # per story viewed
    reply: float = 0.01  # per story viewed
    answer: float = 0.3  # per sticker on a story viewed
    delete: float = 0.02  # per story
    highlight: float = 0.05  # per story
    churn: float = 0.002  # follows plus unfollows per user and simulated hour

    @classmethod
    def parse(cls, text: str) -> Mix:
        """`name=share,...`, e.g. `text=0.2,image=0.5,video=0.3,react=0.1`; the rest default."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, number = item.partition("=")
            if name not in known:
                raise ValueError(f"unknown mix entry {name!r}; known: {', '.join(sorted(known))}")
            values[name] = _share(name, number)
        return replace(cls(), **values)

    def kinds(self) -> tuple[tuple[str, ...], list[float]]:
        """Story kinds and their cumulative weights."""
        weights = (self.text, self.image, self.video)
        return ("TEXT", "IMAGE", "VIDEO"), list(itertools.accumulate(weights))


def _share(name: str, number: str) -> float:
    """A mix entry's value, refused unless it is a share between 0 and 1."""
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"mix entry {name}: not a number: {number!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"mix entry {name}: must be between 0 and 1, got {value}")
    return value


def _trim_to_ms(moment: datetime) -> datetime:
    """Millisecond precision, as events carry."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a run depends on; equal configs give equal events."""

    users: int = 1000
    seed: int = 1
    start: datetime = field(default_factory=lambda: _trim_to_ms(datetime.now(UTC)))
    rate: float = 1000.0  # activity events per second of event time
    events: int = 10_000  # activity events (the graph comes on top)
    mix: Mix = field(default_factory=Mix)
    backdate: float | None = None  # seconds after emission at which each story expires
    simulate_media: bool = True  # emit MediaProcessed for image and video stories
    graph: bool = True  # emit the world's follows and close-friends lists first
    mean_following: float = 20.0
    zipf: float = 1.2  # exponent of the popularity law behind follows

    def __post_init__(self) -> None:
        if self.users < 3:
            raise ValueError("a world needs at least 3 users")
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.backdate is not None and not 0 < self.backdate < MIN_LIFETIME_SECONDS:
            raise ValueError(f"backdate must be between 0 and {MIN_LIFETIME_SECONDS} seconds")
        if self.start.tzinfo is None:
            raise ValueError("start needs a timezone")
