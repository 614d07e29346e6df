"""The follow graph on the move: follows, unfollows and close-friends edits while time passes."""

from __future__ import annotations

import math
import random
from bisect import bisect_left

from simulation.config import SimulationConfig
from simulation.schedule import Schedule
from simulation.world import World, pick_close_friends, popularity

__all__ = ["Churn"]

HOUR = 3600.0


class Churn:
    """Graph changes arriving as one Poisson process over the whole world."""

    def __init__(self, config: SimulationConfig, world: World, rng: random.Random,
                 schedule: Schedule):
        self.world, self.rng, self.schedule = world, rng, schedule
        self.users = config.users
        self.rate = config.mix.churn * config.users / HOUR
        self.popularity = popularity(config.users, config.zipf)

    def start(self) -> None:
        self.schedule.call(self._next_delay(), self.happen)

    def _next_delay(self) -> float:
        return self.rng.expovariate(self.rate) if self.rate > 0 else math.inf

    def happen(self, _: None) -> None:
        """Someone follows a popular account, drops one, or edits their close friends."""
        self.schedule.call(self._next_delay(), self.happen)
        user, draw = self.rng.randrange(self.users), self.rng.random()
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
        self.schedule.emit(0, "UserFollowed", user, followee_id=self.world.user_ids[followee])

    def _unfollow(self, user: int) -> None:
        """Drops one followee, and with it a place on their close-friends list."""
        followed = self.world.following[user]
        if not followed:
            return
        followee = self.rng.choice(sorted(followed))
        followed.discard(followee)
        self.world.followers[followee].discard(user)
        if user in self.world.close_friends[followee]:
            self.world.close_friends[followee].remove(user)
        self.schedule.emit(0, "UserUnfollowed", user, followee_id=self.world.user_ids[followee])

    def _change_close_friends(self, user: int) -> None:
        friends = pick_close_friends(self.rng, self.world.followers[user])
        self.world.close_friends[user] = friends
        self.schedule.emit(0, "CloseFriendsChanged", user,
                           close_friend_ids=[self.world.user_ids[f] for f in friends])
