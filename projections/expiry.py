"""The expiry timer: emits StoryExpired for every story whose time is up, once per story.

Each run also reads the next expiry instant of the indexes it polls, and the timer wakes just
after it, or after `STORIES_EXPIRY_INTERVAL` seconds when nothing is due sooner (a story posted
meanwhile). A story therefore ends within milliseconds of its expiry instant, while an idle
worker looks at its indexes only twice a second.

Once the broker acknowledges a StoryExpired, the timer also publishes `ended` on the story's
live channel, so the author's feed hears of the end within a timer interval of the expiry
instant instead of after the lifecycle fold (which publishes it again, harmlessly: a feed
closes at the first).

A story's expiry entry is in the index of its lifecycle partition, and each worker polls the
indexes of the lifecycle partitions it consumes: one ZRANGEBYSCORE per owned partition per run,
all in one round trip. After a rebalance the new owner polls them; a worker that consumes no
lifecycle partition polls nothing. A short Redis claim per story still decides who emits while
a rebalance lets two workers poll one partition. If the emitting worker dies before the broker
acknowledges, the claim lapses and the next poller emits: a duplicate StoryExpired is harmless
to the projections.

The worker consuming partition 0 also drains the single index of earlier releases, so that
stories indexed before an upgrade still expire. A due entry whose StoryExpired was already
acknowledged is taken out of its index, since no fold removes it from the old index (see
`projections.stores.expiry_index`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

import faust

import schemas
from core.clock import from_ms
from core.clock import now_ms as clock_ms
from core.metrics import EXPIRY_BACKLOG, EXPIRY_BACKLOG_AGE, STORIES_EXPIRED
from projections.folds.lifecycle import ended_notes
from projections.runtime import Runtime
from projections.stores.base import LEGACY_EXPIRY_INDEX
from projections.stores.expiry_index import (
    DueExpiry,
    claim_expiry,
    expiry_settled,
    forget_expiry,
    release_expiry,
    settle_expiry,
)
from projections.stores.redis_store import RedisReadModels
from streams.agents import add_paced_task
from streams.producer import Delivery
from streams.topics import topic_for, topic_name

__all__ = [
    "add_expiry_timer",
    "emit_due_expiries",
    "owned_partitions",
    "indexes_to_poll",
    "seconds_to_next_run",
]

log = logging.getLogger(__name__)

CLAIM_MS = 30_000
DONE_MS = 86_400_000
DUE_PER_RUN = 2000  # per index
SHORTEST_WAIT = 0.01  # seconds: at most 100 runs a second, however close the instants
LIFECYCLE = topic_for("StoryExpired")


def owned_partitions(assignment: Iterable[Any], topic: str) -> list[int]:
    """The partitions of `topic` among a consumer's assigned topic-partitions, in order."""
    return sorted({tp.partition for tp in assignment if tp.topic == topic})


def indexes_to_poll(owned: Sequence[int]) -> list[int | None]:
    """The owned partitions' indexes; the owner of partition 0 drains the old single index too."""
    return [*owned, LEGACY_EXPIRY_INDEX] if 0 in owned else list(owned)


def emit_due_expiries(runtime: Runtime, partitions: Sequence[int],
                      now_ms: int | None = None) -> int:
    """Emit StoryExpired for the due stories of these lifecycle partitions that this worker
    claims; returns how many it emitted."""
    models = runtime.redis_models()  # of the serving version the worker follows
    now_ms = now_ms if now_ms is not None else clock_ms()
    indexes = indexes_to_poll(partitions)
    due = models.due_expiries(indexes, now_ms, DUE_PER_RUN)
    _measure_backlog(models, indexes, due, now_ms)
    claimed = [d for d in due if claim_expiry(models, d.story_id, CLAIM_MS)]
    pending = [(d, runtime.events.send("StoryExpired", _expired(d))) for d in claimed]
    emitted = _settle(models, pending)
    if emitted:  # the end is on the log: the authors' live feeds hear it now, not after the fold
        models.publish(ended_notes([d.story_id for d in emitted]))
    _forget_emitted(models, set(due) - set(claimed))
    return len(emitted)


def expire_and_schedule(runtime: Runtime, partitions: Sequence[int], longest: float) -> float:
    """One run of the timer: emit what is due, then the seconds until the next run."""
    now = clock_ms()
    emit_due_expiries(runtime, partitions, now)
    # Anything after `now` is still to come: what fell due during this run is found too.
    upcoming = runtime.redis_models().next_expiry(indexes_to_poll(partitions), now)
    return seconds_to_next_run(upcoming, clock_ms(), longest)


def seconds_to_next_run(upcoming_ms: int | None, now_ms: int, longest: float) -> float:
    """Until just past the next expiry instant (due from that millisecond on), or `longest`
    when none comes sooner; never sooner than SHORTEST_WAIT, so that stories ending a few
    milliseconds apart are emitted together."""
    if upcoming_ms is None:
        return longest
    return max(SHORTEST_WAIT, min(longest, (upcoming_ms + 1 - now_ms) / 1000))


def _measure_backlog(models: RedisReadModels, indexes: Sequence[int | None],
                     due: Sequence[DueExpiry], now_ms: int) -> None:
    """The stories past their expiry whose end is not folded yet (the fold takes them out of
    the index), and how late the earliest is; the count costs a ZCOUNT only when some are due."""
    EXPIRY_BACKLOG.set(models.expiry_backlog(indexes, now_ms) if due else 0)
    earliest = min((d.expires_at for d in due), default=now_ms)  # each index earliest first
    EXPIRY_BACKLOG_AGE.set(max(0, now_ms - earliest) / 1000)


def _expired(due: DueExpiry) -> dict[str, Any]:
    return schemas.new_event("StoryExpired", actor_id="system", story_id=due.story_id,
                             author_id=due.author_id, expires_at=from_ms(due.expires_at))


def _settle(models: RedisReadModels, pending: Sequence[tuple[DueExpiry, Future[Delivery]]]
            ) -> list[DueExpiry]:
    """Keep the claim of what was acknowledged, and return it; release the rest for another
    try."""
    emitted: list[DueExpiry] = []
    for due, outcome in pending:
        try:
            outcome.result(timeout=30)
        except Exception as error:  # noqa: BLE001 - retried on the next run
            release_expiry(models, due.story_id)
            log.warning("StoryExpired not acknowledged, will retry: %s", error)
            continue
        settle_expiry(models, due.story_id, DONE_MS)
        emitted.append(due)
    STORIES_EXPIRED.inc(len(emitted))
    return emitted


def _forget_emitted(models: RedisReadModels, unclaimed: Iterable[DueExpiry]) -> None:
    """Due entries whose StoryExpired was acknowledged (on an earlier run, or by another worker)
    leave their index: normally the fold has yet to remove them (and does so again, harmlessly);
    in the old single index, or after a partition count change, no fold would."""
    for due in unclaimed:
        if expiry_settled(models, due.story_id):
            forget_expiry(models, due)


class _OwnedPartitions:
    """The lifecycle partitions this worker consumes, read from its consumer on each run."""

    def __init__(self, app: faust.App, topic: str):
        self.app = app
        self.topic = topic
        self.polled: list[int] | None = None

    def now(self) -> list[int]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - not started or rebalancing: nothing owned for now
            assignment = set()
        owned = owned_partitions(assignment, self.topic)
        if owned != self.polled:
            log.info("expiry timer polls the indexes of %s partitions %s", self.topic, owned)
            self.polled = owned
        return owned


def add_expiry_timer(app: faust.App, runtime: Runtime) -> None:
    """Each worker polls its lifecycle partitions' indexes at their next expiry instant, and at
    least every `expiry_interval` seconds."""
    owned = _OwnedPartitions(app, topic_name(LIFECYCLE, runtime.settings.topic_prefix))
    longest = runtime.settings.expiry_interval

    async def expire_due_stories() -> float:
        partitions = owned.now()
        if not partitions:
            EXPIRY_BACKLOG.set(0)  # none of this worker's to count
            EXPIRY_BACKLOG_AGE.set(0)
            return longest
        try:
            return await asyncio.to_thread(expire_and_schedule, runtime, partitions, longest)
        except Exception:  # the next run tries again
            log.exception("expiry timer run failed")
            return longest

    add_paced_task(app, "expire-stories", expire_due_stories)
