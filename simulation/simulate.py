"""A synthetic social world and its activity, as valid events in log order (`stories simulate`).

The world: users whose follower counts follow a power law (a few celebrities hold a large share
of all follows), close-friends lists drawn from each user's followers, and posting habits from a
heavy-tailed distribution (most users post rarely, a few often). The activity is a discrete-event
simulation in simulated time: posts (text, image, video, with poll, quiz, question and emoji
slider stickers), viewing sessions that start after a decaying delay (most within the first hours
after a post), in which a viewer taps through the author's unseen stories in order and sometimes
reacts, replies or answers a sticker; deletions, highlights, follows and unfollows.

Simulated time only orders the events. Event i of the activity is dated `start + i / rate`, so a
run sent at its target rate stays on the wall clock however many simulated hours it covers; the
world's graph comes first, dated just before `start`. Everything random derives from the seed:
the same seed, start, rate and options give the same events, byte for byte.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import schemas
from schemas.rules import MIN_LIFETIME_SECONDS

__all__ = [
    "Event",
    "Mix",
    "SimulationConfig",
    "Simulation",
    "World",
    "build_world",
    "follower_share_of_top",
]

Event = tuple[str, dict[str, Any]]

HOUR = 3600.0
DAY = 86_400.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REACTIONS = ("😍", "😂", "🔥", "👏", "😮", "😢", "🎉", "💯")
SLIDER_EMOJI = ("😍", "🔥", "😂", "🤩")
ANSWERS = ("Yes!", "Tomorrow at noon", "The blue one", "Pizza, always", "Not sure yet")
TITLES = ("Travel", "Food", "Friends", "Pets", "Summer", "Work", "Family")
TEXTS = ("Good morning!", "Guess where I am", "New week, new goals", "Can't believe this",
         "Best day ever", "Who's coming tonight?", "Throwback")


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
        return ("TEXT", "IMAGE", "VIDEO"), list(itertools.accumulate((self.text, self.image,
                                                                        self.video)))


def _share(name: str, number: str) -> float:
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"mix entry {name}: not a number: {number!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"mix entry {name}: must be between 0 and 1, got {value}")
    return value


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a run depends on; equal configs give equal events."""

    users: int = 1000
    seed: int = 1
    start: datetime = field(default_factory=lambda: _trim(datetime.now(UTC)))
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


def _trim(moment: datetime) -> datetime:
    """Millisecond precision, as events carry."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    """Users by index (0 is the most popular), the follow graph and posting habits."""

    user_ids: list[str]
    following: list[set[int]]
    followers: list[set[int]]
    close_friends: list[list[int]]
    posts_per_day: list[float]

    def follower_counts(self) -> list[int]:
        return [len(f) for f in self.followers]


def _user_id(seed: int, index: int) -> str:
    return f"s{seed}u{index}"


def _popularity(users: int, exponent: float) -> list[float]:
    """Cumulative Zipf weights: user r is followed in proportion to 1 / (r + 1) ** exponent."""
    return list(itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(users)))


def _out_degree(rng: random.Random, mean: float, users: int) -> int:
    """How many accounts a user follows: lognormal around the mean, at least one."""
    sigma = 0.9
    drawn = rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
    return max(1, min(users - 1, round(drawn)))


def _followees(rng: random.Random, user: int, wanted: int, cum: list[float]) -> set[int]:
    """Distinct accounts by popularity, never the user; gives up after a few rounds."""
    chosen: set[int] = set()
    population = range(len(cum))
    for _ in range(8):
        missing = wanted - len(chosen)
        if missing <= 0:
            break
        chosen.update(rng.choices(population, cum_weights=cum, k=missing * 2))
        chosen.discard(user)
    return set(itertools.islice(sorted(chosen, key=lambda u: rng.random()), wanted))


def _posting_habit(rng: random.Random, rank: int, users: int) -> float:
    """Stories per day: lognormal (median one every two days); celebrities post more."""
    rate = rng.lognormvariate(math.log(0.5), 1.2)
    if rank < max(1, users // 100):
        rate *= 4
    return min(rate, 30.0)


def _close_friends(rng: random.Random, followers: set[int]) -> list[int]:
    """About a third of users keep a short list, picked among the people who follow them."""
    if not followers or rng.random() > 0.35:
        return []
    pool = sorted(followers)
    return rng.sample(pool, min(len(pool), rng.randint(2, 12)))


def build_world(config: SimulationConfig) -> World:
    """The users, who follows whom (power law), close friends and posting habits."""
    rng = random.Random(f"world-{config.seed}")
    n = config.users
    cum = _popularity(n, config.zipf)
    following = [_followees(rng, u, _out_degree(rng, config.mean_following, n), cum)
                 for u in range(n)]
    followers: list[set[int]] = [set() for _ in range(n)]
    for user, followed in enumerate(following):
        for followee in followed:
            followers[followee].add(user)
    close = [_close_friends(rng, followers[u]) for u in range(n)]
    habits = [_posting_habit(rng, u, n) for u in range(n)]
    ids = [_user_id(config.seed, u) for u in range(n)]
    return World(ids, following, followers, close, habits)


def follower_share_of_top(world: World, fraction: float = 0.01) -> float:
    """Share of all follows held by the top `fraction` of users (heavy tail when large)."""
    counts = sorted(world.follower_counts(), reverse=True)
    top = max(1, int(len(counts) * fraction))
    total = sum(counts)
    return sum(counts[:top]) / total if total else 0.0


# -- the activity --------------------------------------------------------------------------------


@dataclass
class SimStory:
    """What the simulation remembers of a story."""

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


@dataclass
class Highlight:
    """A user's highlight as the simulation knows it."""

    highlight_id: str
    title: str
    story_ids: list[str]


class Simulation:
    """The world plus a discrete-event simulation of its activity, yielding events in order."""

    def __init__(self, config: SimulationConfig, world: World | None = None):
        self.config = config
        self.world = world or build_world(config)
        self.rng = random.Random(f"activity-{config.seed}")
        self.start_ms = _ms(config.start)
        # Ids depend on the start too: a second run of the same world gets fresh ids.
        self.ids = random.Random(f"ids-{config.seed}-{self.start_ms}")
        self.post_cum = list(itertools.accumulate(self.world.posts_per_day))
        self.popularity = _popularity(config.users, config.zipf)
        self.kinds, self.kind_cum = config.mix.kinds()
        self.queue: list[tuple[float, int, str, Any]] = []
        self.sequence = itertools.count()
        self.now = 0.0
        self.emitted = 0
        self.stories: dict[str, SimStory] = {}
        self.by_author: dict[int, list[str]] = {}
        self.last_seen: dict[tuple[int, int], float] = {}
        self.highlights: dict[int, list[Highlight]] = {}

    # -- the stream ------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """The graph (when configured), then exactly `config.events` activity events."""
        if self.config.graph:
            yield from self.graph_events()
        yield from itertools.islice(self.activity(), self.config.events)

    def graph_count(self) -> int:
        """How many events the world's graph takes."""
        w = self.world
        return sum(len(f) for f in w.following) + sum(1 for c in w.close_friends if c)

    def graph_events(self) -> Iterator[Event]:
        """Every follow, then every close-friends list, dated in the moments before `start`."""
        total = self.graph_count()
        position = itertools.count()
        w = self.world
        for user, followed in enumerate(w.following):
            for followee in sorted(followed):
                at = self.start_ms - total + next(position)
                yield self._event("UserFollowed", at, user, followee_id=w.user_ids[followee])
        for user, friends in enumerate(w.close_friends):
            if friends:
                at = self.start_ms - total + next(position)
                yield self._event("CloseFriendsChanged", at, user,
                                  close_friend_ids=[w.user_ids[f] for f in friends])

    def activity(self) -> Iterator[Event]:
        """An endless stream of activity, in simulated-time order, dated at the target rate."""
        self._schedule(self._next_post_delay(), "post", None)
        self._schedule(self._next_churn_delay(), "churn", None)
        while True:
            self.now, _, kind, payload = heapq.heappop(self.queue)
            if kind == "event":
                yield self._dated(*payload)
            else:
                getattr(self, f"_on_{kind}")(payload)

    def event_ms(self) -> int:
        """Event time of the next activity event."""
        return self.start_ms + int(self.emitted * 1000 // self.config.rate)

    def _dated(self, name: str, actor: int, fields: dict[str, Any]) -> Event:
        """Date an activity event by its position in the stream."""
        at = self.event_ms()
        self.emitted += 1
        if name == "StoryPosted":
            at = self._posted_at(at, fields)
        return self._event(name, at, actor, **fields)

    def _posted_at(self, at: int, fields: dict[str, Any]) -> int:
        """With backdating, a story is dated so that it expires `backdate` s after it is sent."""
        backdate = self.config.backdate
        story = self.stories[fields["story_id"]]
        if backdate is None:
            story.expires_ms = at + story.lifetime * 1000
            return at
        story.expires_ms = at + int(backdate * 1000)
        return story.expires_ms - story.lifetime * 1000

    def _event(self, name: str, at_ms: int, actor: int, **fields: Any) -> Event:
        actor_id = self.world.user_ids[actor]
        occurred = EPOCH + timedelta(milliseconds=at_ms)
        return name, schemas.new_event(name, actor_id, occurred_at=occurred,
                                       event_id=self._uuid(), **fields)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.ids.getrandbits(128), version=4))

    def _schedule(self, delay: float, kind: str, payload: Any) -> None:
        heapq.heappush(self.queue, (self.now + delay, next(self.sequence), kind, payload))

    def _emit_later(self, delay: float, name: str, actor: int, **fields: Any) -> None:
        self._schedule(delay, "event", (name, actor, fields))

    # -- posting ---------------------------------------------------------------------------------
    def _next_post_delay(self) -> float:
        """Posts of the whole world arrive as one Poisson process."""
        return self.rng.expovariate(self.post_cum[-1] / DAY)

    def _on_post(self, _: None) -> None:
        self._schedule(self._next_post_delay(), "post", None)
        author = bisect_left(self.post_cum, self.rng.random() * self.post_cum[-1])
        story = self._new_story(author)
        self.stories[story.story_id] = story
        self.by_author.setdefault(author, []).append(story.story_id)
        self._emit_later(0, "StoryPosted", author, **self._posted_fields(story))
        if not story.ready and self.config.simulate_media:
            self._schedule(self.rng.expovariate(1 / (5 if story.kind == "IMAGE" else 25)),
                           "media", story.story_id)
        self._plan_views(story)
        self._plan_fate(story)

    def _new_story(self, author: int) -> SimStory:
        rng = self.rng
        kind = self.kinds[bisect_left(self.kind_cum, rng.random() * self.kind_cum[-1])]
        audience, excluded = self._audience(author)
        lifetime = rng.choices((86_400, 43_200, 172_800), weights=(90, 5, 5))[0]
        stickers = self._stickers() if rng.random() < self.config.mix.stickers else ()
        return SimStory(self._uuid(), author, self.now, lifetime, 0, kind, audience, excluded,
                        stickers, ready=kind == "TEXT")

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
        ids = self.world.user_ids
        if story.audience is not None:
            audience = {"mode": "CLOSE_FRIENDS", "user_ids": [ids[u] for u in sorted(story.audience)]}
        elif story.excluded:
            audience = {"mode": "FOLLOWERS_EXCEPT",
                        "user_ids": [ids[u] for u in sorted(story.excluded)]}
        else:
            audience = {"mode": "FOLLOWERS", "user_ids": []}
        text = self.rng.choice(TEXTS) if story.kind == "TEXT" else None
        return {
            "story_id": story.story_id, "kind": story.kind, "text": text,
            "media_id": None if story.kind == "TEXT" else f"sim-{story.story_id}",
            "caption": None, "audience": audience, "stickers": list(story.stickers),
            "lifetime_seconds": story.lifetime,
        }

    def _stickers(self) -> tuple[dict[str, Any], ...]:
        """One sticker, now and then two, of the four kinds."""
        count = 1 if self.rng.random() < 0.85 else 2
        kinds = self.rng.sample(("POLL", "QUIZ", "QUESTION", "EMOJI_SLIDER"), count)
        return tuple(_sticker(f"st{i}", kind, self.rng) for i, kind in enumerate(kinds))

    def _on_media(self, story_id: str) -> None:
        story = self.stories.get(story_id)
        if story is None or story.deleted:
            return
        story.ready = True
        self._emit_later(0, "MediaProcessed", story.author, **_processed(story, self.rng))

    # -- viewing ---------------------------------------------------------------------------------
    def _plan_views(self, story: SimStory) -> None:
        """Each follower in the audience may come by later: soon after posting, more rarely later."""
        followers = self.world.followers[story.author]
        odds = self.config.mix.view * min(1.0, (100 / max(len(followers), 1)) ** 0.3)
        audience = story.audience if story.audience is not None else followers
        for viewer in sorted(audience - story.excluded):
            if self.rng.random() < odds:
                delay = self._view_delay(story.lifetime)
                if delay is not None:
                    self._schedule(delay, "session", (viewer, story.author))

    def _view_delay(self, lifetime: int) -> float | None:
        """Most views come in the first hours after a post, then fewer and fewer."""
        draw = self.rng.random()
        if draw < 0.5:
            delay = self.rng.expovariate(1 / (0.6 * HOUR))
        elif draw < 0.85:
            delay = self.rng.expovariate(1 / (3 * HOUR))
        else:
            delay = self.rng.uniform(0, lifetime)
        return delay + 1 if delay < lifetime else None

    def _on_session(self, pair: tuple[int, int]) -> None:
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
        live = [self.stories[s] for s in self._live_ids(author)]
        return [s for s in live if s.posted > seen_until and s.ready and _may_see(s, viewer)]

    def _live_ids(self, author: int) -> list[str]:
        """The author's stories still up in simulated and event time, pruning the rest."""
        now_ms = self.event_ms()
        ids = [s for s in self.by_author.get(author, ()) if self._is_live(self.stories[s], now_ms)]
        for gone in set(self.by_author.get(author, ())) - set(ids):
            del self.stories[gone]
        self.by_author[author] = ids
        return ids

    def _is_live(self, story: SimStory, now_ms: int) -> bool:
        if story.deleted or self.now >= story.posted + story.lifetime:
            return False
        return story.expires_ms == 0 or now_ms < story.expires_ms

    def _engage(self, viewer: int, story: SimStory, offset: float) -> None:
        """A view, and sometimes a reaction, a reply or sticker answers."""
        mix, rng = self.config.mix, self.rng
        on = {"story_id": story.story_id, "author_id": self.world.user_ids[story.author]}
        self._emit_later(offset, "StoryViewed", viewer, **on)
        if rng.random() < mix.react:
            self._emit_later(offset + 1, "StoryReacted", viewer, emoji=rng.choice(REACTIONS), **on)
        if rng.random() < mix.reply:
            self._emit_later(offset + 2, "StoryReplied", viewer, message_id=None, **on)
        for sticker in story.stickers:
            if rng.random() < mix.answer:
                self._emit_later(offset + 1.5, "StickerAnswered", viewer,
                                 **_answer(sticker, rng), **on)

    # -- deletions and highlights ----------------------------------------------------------------
    def _plan_fate(self, story: SimStory) -> None:
        draw, mix = self.rng.random(), self.config.mix
        if draw < mix.delete:
            self._schedule(self.rng.uniform(0.05, 0.8) * story.lifetime, "delete", story.story_id)
        elif draw < mix.delete + mix.highlight:
            self._schedule(self.rng.uniform(0.1, 0.9) * story.lifetime, "highlight",
                           story.story_id)

    def _on_delete(self, story_id: str) -> None:
        story = self.stories.get(story_id)
        if story is None or story.deleted:
            return
        story.deleted = True
        self._emit_later(0, "StoryDeleted", story.author, story_id=story_id)

    def _on_highlight(self, story_id: str) -> None:
        """Keep the story in a highlight: a new one, or appended to an existing one."""
        story = self.stories.get(story_id)
        if story is None or story.deleted:
            return
        owned = self.highlights.setdefault(story.author, [])
        if not owned or self.rng.random() < 0.2:
            self._create_highlight(story, owned)
            return
        highlight = self.rng.choice(owned)
        highlight.story_ids.append(story_id)
        self._emit_later(0, "HighlightStoryAdded", story.author,
                         highlight_id=highlight.highlight_id, story_id=story_id)
        self._maybe_edit_highlight(story.author, highlight, owned)

    def _create_highlight(self, story: SimStory, owned: list[Highlight]) -> None:
        highlight = Highlight(self._uuid(), self.rng.choice(TITLES), [story.story_id])
        owned.append(highlight)
        self._emit_later(0, "HighlightCreated", story.author, highlight_id=highlight.highlight_id,
                         title=highlight.title, story_ids=list(highlight.story_ids))

    def _maybe_edit_highlight(self, owner: int, highlight: Highlight, owned: list[Highlight]) -> None:
        """Now and then a rename, a story taken out, or a highlight deleted."""
        draw, hid = self.rng.random(), highlight.highlight_id
        if draw < 0.1:
            highlight.title = self.rng.choice(TITLES)
            self._emit_later(1, "HighlightUpdated", owner, highlight_id=hid,
                             title=highlight.title, story_ids=None)
        elif draw < 0.2 and len(highlight.story_ids) > 1:
            removed = highlight.story_ids.pop(0)
            self._emit_later(1, "HighlightStoryRemoved", owner, highlight_id=hid,
                             story_id=removed)
        elif draw < 0.23:
            owned.remove(highlight)
            self._emit_later(1, "HighlightDeleted", owner, highlight_id=hid)

    # -- follows ---------------------------------------------------------------------------------
    def _next_churn_delay(self) -> float:
        rate = self.config.mix.churn * self.config.users / HOUR
        return self.rng.expovariate(rate) if rate > 0 else math.inf

    def _on_churn(self, _: None) -> None:
        """Someone follows a popular account, drops one, or edits their close friends."""
        self._schedule(self._next_churn_delay(), "churn", None)
        user, draw = self.rng.randrange(self.config.users), self.rng.random()
        if draw < 0.5:
            self._follow(user)
        elif draw < 0.9:
            self._unfollow(user)
        else:
            self._change_close_friends(user)

    def _follow(self, user: int) -> None:
        cum = self.popularity
        followee = bisect_left(cum, self.rng.random() * cum[-1])
        if followee == user or followee in self.world.following[user]:
            return
        self.world.following[user].add(followee)
        self.world.followers[followee].add(user)
        self._emit_later(0, "UserFollowed", user, followee_id=self.world.user_ids[followee])

    def _unfollow(self, user: int) -> None:
        followed = self.world.following[user]
        if not followed:
            return
        followee = self.rng.choice(sorted(followed))
        followed.discard(followee)
        self.world.followers[followee].discard(user)
        if user in self.world.close_friends[followee]:
            self.world.close_friends[followee].remove(user)
        self._emit_later(0, "UserUnfollowed", user, followee_id=self.world.user_ids[followee])

    def _change_close_friends(self, user: int) -> None:
        friends = _close_friends(self.rng, self.world.followers[user])
        self.world.close_friends[user] = friends
        self._emit_later(0, "CloseFriendsChanged", user,
                         close_friend_ids=[self.world.user_ids[f] for f in friends])


def _may_see(story: SimStory, viewer: int) -> bool:
    if story.audience is not None:
        return viewer in story.audience
    return viewer not in story.excluded


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _sticker(sticker_id: str, kind: str, rng: random.Random) -> dict[str, Any]:
    """A sticker of the given kind with plausible content."""
    sticker: dict[str, Any] = {"sticker_id": sticker_id, "kind": kind, "prompt": "",
                               "options": [], "correct_option": None, "emoji": None}
    if kind == "POLL":
        sticker.update(prompt="Which one?", options=["This", "That"])
    elif kind == "QUIZ":
        sticker.update(prompt="Where was this taken?", options=["Lisbon", "Oslo", "Rome"],
                       correct_option=rng.randrange(3))
    elif kind == "QUESTION":
        sticker.update(prompt="Ask me anything")
    else:
        sticker.update(prompt="How much do you love it?", emoji=rng.choice(SLIDER_EMOJI))
    return sticker


def _answer(sticker: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A viewer's answer to one sticker: an option, a slider position or a few words."""
    answer: dict[str, Any] = {"sticker_id": sticker["sticker_id"], "option_index": None,
                              "slider_value": None, "text": None}
    if sticker["options"]:
        answer["option_index"] = rng.randrange(len(sticker["options"]))
    elif sticker["kind"] == "EMOJI_SLIDER":
        answer["slider_value"] = round(rng.random(), 3)
    else:
        answer["text"] = rng.choice(ANSWERS)
    return answer


def _processed(story: SimStory, rng: random.Random) -> dict[str, Any]:
    """Renditions as the media agent would report them, without any upload behind them."""
    base, media = story.story_id, "IMAGE" if story.kind == "IMAGE" else "VIDEO"
    thumbnail = {"name": "thumbnail", "key": f"{base}/thumb.jpg", "content_type": "image/jpeg",
                 "width": 180, "height": 320, "size_bytes": rng.randint(6_000, 14_000),
                 "duration_ms": None}
    if media == "IMAGE":
        full = {"name": "full", "key": f"{base}/full.jpg", "content_type": "image/jpeg",
                "width": 1080, "height": 1920, "size_bytes": rng.randint(150_000, 400_000),
                "duration_ms": None}
    else:
        full = {"name": "full", "key": f"{base}/full.mp4", "content_type": "video/mp4",
                "width": 720, "height": 1280, "size_bytes": rng.randint(800_000, 4_000_000),
                "duration_ms": rng.randint(3_000, 15_000)}
    return {"story_id": story.story_id, "media_id": f"sim-{story.story_id}", "media_kind": media,
            "renditions": [full, thumbnail]}
