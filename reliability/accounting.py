"""What a scenario's traffic left in the read models, judged against the log.

Lost and duplicated compare each active story's counters with what the log implies; a leak is
a story that ended during the run and is still stored or still leads a follower's tray; the
replay difference counts Redis entries that a clean rebuild from the same log does not match.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass

from core.settings import Settings
from harness.deployment import Deployment
from harness.log import events_in_log, read_log
from harness.readmodels import differing
from projections.queries import read_tray
from projections.stores.redis_reads import stories_present
from projections.stores.redis_store import RedisReadModels
from reliability.traffic import ScenarioTraffic

__all__ = ["Accounting", "account", "wait_settled", "replay_diff", "log_census", "expired_by_timer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accounting:
    """The traffic's events as the read models reflect them."""

    reflected: int
    lost: int
    duplicated: int
    leaks: int


def _pairs(models: RedisReadModels, traffic: ScenarioTraffic, story_id: str
           ) -> list[tuple[int, int]]:
    """(wanted, found) for each counter of one active story."""
    found, wanted = models.counters(story_id), traffic.expected
    pairs = [(len(wanted.views[story_id]), found.views),
             (len(wanted.viewers[story_id]), found.unique_viewers)]
    reactions = wanted.reaction_counts(story_id)
    for emoji in set(reactions) | set(found.reactions):
        pairs.append((reactions.get(emoji, 0), found.reactions.get(emoji, 0)))
    return pairs


def _gaps(models: RedisReadModels, traffic: ScenarioTraffic) -> tuple[int, int]:
    """(lost, duplicated) over the active stories; an active story missing counts as one lost."""
    lost = duplicated = 0
    for story_id in traffic.active:
        pairs = _pairs(models, traffic, story_id)
        lost += sum(max(0, want - got) for want, got in pairs)
        duplicated += sum(max(0, got - want) for want, got in pairs)
        lost += models.story(story_id) is None
    return lost, duplicated


def _still_served(models: RedisReadModels, story_id: str, author: str, now_ms: int) -> bool:
    """Still in its author's stories, or still the latest story of a follower's tray."""
    if stories_present(models, [(author, story_id)]).fetch(models.client)[0]:
        return True
    return any(item.latest_story_id == story_id
               for follower in models.followers(author)
               for item in read_tray(models, follower, now_ms))


def _leaks(models: RedisReadModels, traffic: ScenarioTraffic) -> int:
    now_ms = int(time.time() * 1000)
    return sum(_still_served(models, story_id, author, now_ms)
               for story_id, author in traffic.ended.items())


def account(deployment: Deployment, traffic: ScenarioTraffic) -> Accounting:
    """Lost, duplicated and leaked, in the serving read models as they are now."""
    models = deployment.runtime.redis_models()
    lost, duplicated = _gaps(models, traffic)
    return Accounting(len(traffic.events) - lost, lost, duplicated, _leaks(models, traffic))


def _reflected(deployment: Deployment, traffic: ScenarioTraffic) -> bool:
    if time.time() < traffic.last_expiry + 1:
        return False
    found = account(deployment, traffic)
    return not (found.lost or found.leaks)


def wait_settled(deployment: Deployment, traffic: ScenarioTraffic, timeout: float = 300) -> None:
    """Until every event is reflected, every ended story gone, and the read models still.

    Committed offsets are not a reliable sign here: a commit that failed while the broker was
    away is only retried once the partition moves on.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _reflected(deployment, traffic):
        time.sleep(0.5)
    previous = None
    while time.monotonic() < deadline:
        current = deployment.read_models()
        if current == previous:
            return
        previous = current
        time.sleep(2)


def replay_diff(deployment: Deployment) -> int:
    """Entries that differ between the serving read models and a clean replay of the same log."""
    before = deployment.read_models()
    deployment.replay()
    after = deployment.read_models()
    keys = differing(before, after)
    for key in keys[:20]:
        log.warning("serving and replayed differ at %s: %r != %r", key, before.get(key), after.get(key))
    return len(keys)


def log_census(settings: Settings, traffic: ScenarioTraffic) -> tuple[int, int]:
    """(duplicated, missing) event ids in the topics compared with what was emitted."""
    seen = Counter(record["event_id"] for _, record in read_log(settings))
    emitted = {record["event_id"] for _, record in traffic.events}
    return sum(seen[i] - 1 for i in emitted if seen[i]), len(emitted - seen.keys())


def expired_by_timer(settings: Settings, traffic: ScenarioTraffic) -> int:
    """Expiring stories the timer took down (so they were folded while active)."""
    expiring = traffic.expiring
    found = events_in_log(settings, "StoryExpired", lambda r: r["story_id"] in expiring)
    return len({record["story_id"] for record in found})
