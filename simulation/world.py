"""The simulated world: users, who follows whom (a power law), close friends, posting habits.

Every part of the simulation builds on it: `stories simulate` and the benchmark draw a large
one from a seed, the reliability traffic a small one, and the demo's sample is a hand-written
one. Its graph becomes events through `graph_events`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from simulation.config import SimulationConfig
from simulation.events import Event, EventMaker

__all__ = [
    "World",
    "build_world",
    "follower_share_of_top",
    "graph_count",
    "graph_events",
    "pick_close_friends",
    "popularity",
]


@dataclass
class World:
    """Users by index (0 is the most popular), the follow graph and posting habits.

    Mutable on purpose: the activity's follows and unfollows change it as they happen.
    """

    user_ids: list[str]
    following: list[set[int]]
    followers: list[set[int]]
    close_friends: list[list[int]]
    posts_per_day: list[float]

    @classmethod
    def of(cls, user_ids: Sequence[str], follows: Mapping[str, Sequence[str]],
           close_friends: Mapping[str, Sequence[str]] | None = None) -> World:
        """A world written out by hand: who follows whom and who keeps which close friends."""
        index = {user: i for i, user in enumerate(user_ids)}
        following = [{index[f] for f in follows.get(user, ())} for user in user_ids]
        friends = close_friends or {}
        close = [[index[f] for f in friends.get(user, ())] for user in user_ids]
        return cls(list(user_ids), following, _followers(following), close,
                   [0.0] * len(user_ids))

    def follower_counts(self) -> list[int]:
        return [len(f) for f in self.followers]


def _followers(following: list[set[int]]) -> list[set[int]]:
    """The follow graph read the other way round."""
    followers: list[set[int]] = [set() for _ in following]
    for user, followed in enumerate(following):
        for followee in followed:
            followers[followee].add(user)
    return followers


def _user_id(seed: int, index: int) -> str:
    return f"s{seed}u{index}"


def popularity(users: int, exponent: float) -> list[float]:
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


def pick_close_friends(rng: random.Random, followers: set[int]) -> list[int]:
    """About a third of users keep a short list, picked among the people who follow them."""
    if not followers or rng.random() > 0.35:
        return []
    pool = sorted(followers)
    return rng.sample(pool, min(len(pool), rng.randint(2, 12)))


def build_world(config: SimulationConfig) -> World:
    """The users, who follows whom (power law), close friends and posting habits."""
    rng = random.Random(f"world-{config.seed}")
    n = config.users
    cum = popularity(n, config.zipf)
    following = [_followees(rng, u, _out_degree(rng, config.mean_following, n), cum)
                 for u in range(n)]
    followers = _followers(following)
    close = [pick_close_friends(rng, followers[u]) for u in range(n)]
    habits = [_posting_habit(rng, u, n) for u in range(n)]
    ids = [_user_id(config.seed, u) for u in range(n)]
    return World(ids, following, followers, close, habits)


def follower_share_of_top(world: World, fraction: float = 0.01) -> float:
    """Share of all follows held by the top `fraction` of users (heavy tail when large)."""
    counts = sorted(world.follower_counts(), reverse=True)
    top = max(1, int(len(counts) * fraction))
    total = sum(counts)
    return sum(counts[:top]) / total if total else 0.0


def graph_count(world: World) -> int:
    """How many events the world's graph takes."""
    return sum(len(f) for f in world.following) + sum(1 for c in world.close_friends if c)


def graph_events(world: World, maker: EventMaker, before_ms: int) -> Iterator[Event]:
    """Every follow, then every close-friends list, dated in the milliseconds before `before_ms`."""
    ids = world.user_ids
    moments = itertools.count(before_ms - graph_count(world))
    for user, followed in enumerate(world.following):
        for followee in sorted(followed):
            yield maker.make("UserFollowed", next(moments), ids[user], followee_id=ids[followee])
    for user, friends in enumerate(world.close_friends):
        if friends:
            yield maker.make("CloseFriendsChanged", next(moments), ids[user],
                             close_friend_ids=[ids[f] for f in friends])
