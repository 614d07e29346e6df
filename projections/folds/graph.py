"""The social-graph fold: follows, unfollows, close friends, and the trays a follow changes.

A new follow brings the followee's active stories into the follower's tray; an author who
crosses the fan-out threshold is flagged and merged into trays at read time instead, and one
who drops back to it has every follower's entry pushed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.clock import to_ms
from projections.folds.erasure import dropped, without_erased
from projections.folds.lifecycle import put_entry
from projections.folds.policy import Event, ProjectionPolicy
from projections.folds.writes import Writes
from projections.model import TrayEntry, tray_entry
from projections.stores.base import AuthorState

__all__ = ["GraphResult", "CelebrityResult", "fold_graph", "fold_celebrity_flags",
           "pairs_to_push", "fold_follow_trays"]

Pair = tuple[str, str]  # (follower, followee)


@dataclass
class GraphResult:
    """The graph writes and the pairs whose last event in the batch is a follow."""

    writes: Writes
    followed: list[Pair]


@dataclass
class CelebrityResult:
    """The threshold flags, the followees pushed at posting, and those flagged until now."""

    writes: Writes
    pushed: set[str]
    demoted: set[str]


def fold_graph(events: Sequence[Event], erased: Mapping[str, int] | None = None) -> GraphResult:
    """Graph writes in event order; an unfollow also drops the tray entry. Changes by or of an
    erased user are dropped (erasures themselves are folded by `folds.erasure`)."""
    writes = Writes()
    last: dict[Pair, str] = {}
    for name, record in events:
        if dropped(name, record, erased or {}):
            continue
        at, actor = to_ms(record["occurred_at"]), record["actor_id"]
        if name == "CloseFriendsChanged":
            friends = without_erased(record["close_friend_ids"], erased or {})
            writes.active.set_close_friends(actor, friends)
            writes.record.close_friends(actor, friends, at)
            continue
        followee = record["followee_id"]
        if name == "UserFollowed":
            writes.active.follow(actor, followee)
            writes.record.follow(actor, followee, at)
        else:
            writes.active.unfollow(actor, followee)
            writes.active.drop_tray_entry(actor, followee)
            writes.record.unfollow(actor, followee, at)
        last[(actor, followee)] = name
    return GraphResult(writes, [pair for pair, name in last.items() if name == "UserFollowed"])


def fold_celebrity_flags(counts: Mapping[str, int], flagged: set[str],
                         policy: ProjectionPolicy) -> CelebrityResult:
    """Flag the followees above the threshold; the others are pushed."""
    writes = Writes()
    for followee, count in counts.items():
        writes.active.set_celebrity(followee, count > policy.fanout_threshold)
    pushed = {f for f, count in counts.items() if count <= policy.fanout_threshold}
    return CelebrityResult(writes, pushed, pushed & flagged)


def pairs_to_push(followed: list[Pair], pushed: set[str],
                  followers_of_demoted: Mapping[str, set[str]]) -> list[Pair]:
    """New follows of pushed authors, and every follower of an author who was pulled until now."""
    pairs = [(follower, followee) for follower, followee in followed if followee in pushed]
    for author in sorted(followers_of_demoted):
        pairs += [(follower, author) for follower in sorted(followers_of_demoted[author])]
    return list(dict.fromkeys(pairs))


def fold_follow_trays(pairs: list[Pair], states: Mapping[str, AuthorState], now: int,
                      written: dict[Pair, TrayEntry | None] | None = None,
                      ) -> tuple[Writes, dict[Pair, TrayEntry | None]]:
    """Each pair's tray entry; with `written` (a second look), only the entries that changed."""
    writes, entries = Writes(), dict[Pair, TrayEntry | None]()
    for follower, followee in pairs:
        state = states.get(followee, _NO_STORIES)
        entry = tray_entry(state.stories, follower, True, now)
        entries[(follower, followee)] = entry
        if written is not None and written.get((follower, followee)) == entry:
            continue
        put_entry(writes.active, follower, followee, entry, state.version)
    return writes, entries


_NO_STORIES = AuthorState(0, [])
