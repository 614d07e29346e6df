"""`stories replay`: rebuild the read models from the log into a new version, then switch.

The serving version keeps serving throughout. The new version is filled topic by topic (graph,
highlights, story lifecycle, engagement: the order in which each fold finds what it needs),
caught up with what arrived meanwhile, made the serving version, tailed for a grace period while workers and
gateways pick up the switch (writes are idempotent, so overlap is harmless), and only then is
the old version dropped. Cancelling before the switch drops the new version and leaves the
live one untouched. No side effect runs: no live-feed notes, no expiry events.

A replay that dies (kill -9, a lost host) leaves its checkpoint (projections/replay_checkpoint.py):
`resume=True` continues it where it stopped, `from_beginning=True` discards it and starts over,
and a plain replay refuses to start beside it.

Progress shows on the terminal (events, rate, ETA) and in the replay's own metrics
(`core.metrics.REPLAY_REGISTRY`: events folded, events left in the pass, share of the rebuild
done, the phase), which `stories replay --metrics-port` serves while the replay runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

import schemas
from core.clients import kafka_config
from core.clock import to_ms
from core.metrics import REPLAY_EVENTS, REPLAY_PHASE, REPLAY_PROGRESS, REPLAY_REMAINING
from projections.catalogue import PROJECTIONS, kinds_of
from projections.projector import Event, ProjectionPolicy, Projector
from projections.replay_checkpoint import ReplayCheckpoint, ReplayCheckpoints
from projections.runtime import Runtime
from projections.stores.cql_batches import BatchShape
from projections.stores.cql_store import CqlReadModels
from projections.stores.redis_replicas import ReplicaWait
from projections.stores.redis_store import RedisReadModels
from projections.stores.redis_versions import drop_kinds, drop_version_keys
from projections.versions import (
    ReadModelVersion,
    ServingVersions,
    create_version,
    drop_tables,
    drop_version,
    switch_serving,
)
from streams.admin import partition_count
from streams.schema_topic import SchemaTopic
from streams.topics import TOPICS, Topic, topic_name

__all__ = ["ReplayPlan", "ReplayReport", "replay", "REPLAY_ORDER", "UnfinishedReplay"]

log = logging.getLogger(__name__)

# Each fold finds what it needs already rebuilt: followers before trays, highlight
# membership before expired posts (kept stories), stories before their engagement.
REPLAY_ORDER = ("social-graph", "highlights", "story-lifecycle", "engagement")
TIME_BOUNDED = frozenset({"story-lifecycle", "engagement"})
BATCH = 5000


@dataclass
class ReplayPlan:
    """What to rebuild and from where."""

    projections: tuple[str, ...] = PROJECTIONS
    since: datetime | None = None
    catch_up_lag: int = 1000
    grace_seconds: float = 5.0
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    resume: bool = False  # continue the interrupted replay from its checkpoint
    from_beginning: bool = False  # discard an interrupted replay and start over


class UnfinishedReplay(Exception):
    """A replay cannot start as asked: one was interrupted (or none was, for --resume)."""

    def __init__(self, found: ReplayCheckpoint | None):
        self.found = found
        if found is None:
            message = "no interrupted replay to resume"
        else:
            message = (f"an interrupted replay of version {found.version} "
                       f"({', '.join(found.projections)}) was last saved at {found.updated_at}: "
                       "--resume continues it, --from-beginning discards it and starts over")
        super().__init__(message)


def _topics(runtime: Runtime) -> list[Topic]:
    by_suffix = {t.suffix: t for t in TOPICS}
    return [by_suffix[s] for s in REPLAY_ORDER]


def _new_version(runtime: Runtime) -> ReadModelVersion:
    s, live = runtime.settings, runtime.version
    target = ReadModelVersion(live.base, live.newest() + 1)
    drop_version(runtime.session, target)  # leftovers of a cancelled replay
    drop_version_keys(runtime.redis, target.redis_prefix)
    return create_version(runtime.session, s.cql_keyspace, s.cql_replication, target.number)


def _projector(runtime: Runtime, version: ReadModelVersion) -> Projector:
    s = runtime.settings
    redis_models = RedisReadModels(
        runtime.redis, version.redis_prefix, s.pseudonym_secret.get_secret_value().encode(),
        ReplicaWait.from_settings(s),
    )
    policy = ProjectionPolicy(fanout_threshold=s.fanout_threshold, insights_days=s.insights_days)
    cql_models = CqlReadModels(runtime.session, version.keyspace, BatchShape.from_settings(s))
    return Projector(redis_models, cql_models, policy, story_keys=runtime.story_keys)


def _consumer(runtime: Runtime) -> Consumer:
    return Consumer({
        **kafka_config(runtime.settings),
        "group.id": f"{runtime.settings.topic_prefix}-replay",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "fetch.max.bytes": 52_428_800,
    })


def _start_positions(consumer: Consumer, name: str, topic: Topic, count: int,
                     plan: ReplayPlan) -> None:
    """Where each of the `count` partitions starts: the beginning, or the first offset at or
    after --since."""
    partitions = [TopicPartition(name, p, OFFSET_BEGINNING) for p in range(count)]
    if plan.since is not None and topic.suffix in TIME_BOUNDED:
        at_ms = to_ms(plan.since)
        wanted = [TopicPartition(name, p, at_ms) for p in range(count)]
        partitions = consumer.offsets_for_times(wanted, timeout=30)
    for tp in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(name, tp.partition), timeout=30)
        # OFFSET_BEGINNING: from the start; -1: nothing at or after --since.
        start = low if tp.offset == OFFSET_BEGINNING else high if tp.offset < 0 else tp.offset
        plan.positions.setdefault((name, tp.partition), min(max(start, low), high))


def _ends(consumer: Consumer, counts: dict[str, int]) -> dict[tuple[str, int], int]:
    return {
        (name, p): consumer.get_watermark_offsets(TopicPartition(name, p), timeout=30)[1]
        for name, count in counts.items() for p in range(count)
    }


def _read(consumer: Consumer, name: str, partitions: list[int], plan: ReplayPlan,
          ends: dict[tuple[str, int], int]) -> Iterator[list[Message]]:
    """Messages of one topic from the plan's positions up to `ends`, in batches."""
    todo = {p for p in partitions if plan.positions[(name, p)] < ends[(name, p)]}
    if not todo:
        return
    consumer.assign([TopicPartition(name, p, plan.positions[(name, p)]) for p in todo])
    while todo:
        batch: list[Message] = []
        for message in consumer.consume(BATCH, timeout=1.0):
            partition, offset = message.partition(), message.offset()
            if message.error() or partition is None or offset is None:
                continue
            key = (name, partition)
            if partition in todo and offset < ends[key]:
                batch.append(message)
                plan.positions[key] = offset + 1
                if plan.positions[key] >= ends[key]:
                    todo.discard(key[1])
        if batch:
            yield batch
    consumer.unassign()


def _decoded(messages: list[Message], schema_topic: SchemaTopic) -> tuple[list[Event], list[int]]:
    """Events of a batch and the partition of each; what cannot be decoded was dead-lettered
    when it first arrived (events of a newer release are read as the worker reads them)."""
    events, partitions = [], []
    for message in messages:
        value = message.value() or b""
        try:
            events.append(schemas.decode(value))
        except schemas.EventError:
            if not schema_topic.learn_unknown(value, message.timestamp()[1]):
                continue
            events.append(schemas.decode(value))
        partitions.append(message.partition() or 0)  # _read keeps only messages with one
    return events, partitions


def _pass(runtime: Runtime, consumer: Consumer, projector: Projector, plan: ReplayPlan,
          progress: Progress | None, checkpoints: ReplayCheckpoints) -> int:
    """One pass over every topic up to the current end; returns the events applied."""
    prefix = runtime.settings.topic_prefix
    schema_topic = SchemaTopic(runtime.settings)
    named = [(topic_name(t, prefix), t) for t in _topics(runtime)]
    # The broker's partition counts, which may differ from the catalogue's (see `stories init`).
    counts = {name: partition_count(consumer, name, timeout=30) for name, _ in named}
    for name, topic in named:
        _start_positions(consumer, name, topic, counts[name], plan)
    ends = _ends(consumer, counts)
    meter = _Meter(sum(max(0, ends[k] - plan.positions[k]) for k in ends), progress)
    for name, topic in named:
        for batch in _read(consumer, name, list(range(counts[name])), plan, ends):
            projector.apply(topic.suffix, *_decoded(batch, schema_topic))
            checkpoints.save(plan.positions)  # the batch is folded and flushed
            meter.advance(topic.suffix, len(batch))
    checkpoints.save(plan.positions, force=True)
    return meter.done


class _Meter:
    """One pass's progress in the replay's metrics, and on the terminal for the rebuild pass
    (the only one shown, and the only one whose share done is reported)."""

    def __init__(self, total: int, progress: Progress | None):
        self.total, self.done, self.progress = total, 0, progress
        self.task = progress.add_task("replaying", total=total) if progress else None
        REPLAY_REMAINING.set(total)
        if progress is not None:
            REPLAY_PROGRESS.set(0 if total else 1)

    def advance(self, topic: str, events: int) -> None:
        self.done += events
        REPLAY_EVENTS.labels(topic).inc(events)
        REPLAY_REMAINING.set(max(0, self.total - self.done))
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=events)
            REPLAY_PROGRESS.set(min(1.0, self.done / self.total))


def replay(runtime: Runtime, plan: ReplayPlan, console: Console) -> ReplayReport:
    """Rebuild the read models into a new version and make the planned projections live there."""
    checkpoints = ReplayCheckpoints(runtime.session, runtime.version.base)
    found = checkpoints.load()
    if (plan.resume and found is None) or (found and not plan.resume and not plan.from_beginning):
        raise UnfinishedReplay(found)
    if plan.resume and found is not None:
        old, new = ServingVersions.of(runtime.version.base, found.previous), \
            ReadModelVersion(runtime.version.base, found.version)
        plan = replace(plan, projections=found.projections, since=found.since,
                       positions=dict(found.positions))
        console.print(f"resuming the rebuild of {', '.join(plan.projections)} into "
                      f"{new.keyspace} / {new.redis_prefix} from its checkpoint")
    else:
        if found is not None:
            _discard(runtime, found, checkpoints)
        old, new = runtime.version, _new_version(runtime)
        checkpoints.start(ReplayCheckpoint(new.number, plan.projections, plan.since,
                                           dict(old.numbers)))
        console.print(f"rebuilding {', '.join(plan.projections)} into {new.keyspace} / "
                      f"{new.redis_prefix}")
    projector = _projector(runtime, new)
    consumer = _consumer(runtime)
    started = time.monotonic()
    switched = found is not None and plan.resume and found.switched
    applied = 0
    try:
        if not switched:
            REPLAY_PHASE.state("rebuilding")
            with _progress(console) as progress:
                applied = _pass(runtime, consumer, projector, plan, progress, checkpoints)
            REPLAY_PHASE.state("catching_up")
            while (lag := _catch_up(runtime, consumer, projector, plan, checkpoints)) > plan.catch_up_lag:
                applied += lag
            switch_serving(runtime.session, old.base, plan.projections, new.number)
            checkpoints.switched()
            switched = True
            console.print(f"switched {', '.join(plan.projections)} to version {new.number}; "
                          f"tailing {plan.grace_seconds} s")
        REPLAY_PHASE.state("tailing")
        deadline = time.monotonic() + plan.grace_seconds
        while time.monotonic() < deadline:
            applied += _catch_up(runtime, consumer, projector, plan, checkpoints)
            time.sleep(0.5)
    except BaseException:
        REPLAY_PHASE.state("failed" if switched else "cancelled")
        if not switched:
            console.print("[yellow]replay cancelled: dropping the new version, serving version intact[/]")
            _drop_new(runtime, new)
            checkpoints.clear()
        raise
    finally:
        consumer.close()
    REPLAY_PHASE.state("retiring")
    _retire(runtime, old, new, plan.projections)
    checkpoints.clear()
    REPLAY_PHASE.state("done")
    seconds = time.monotonic() - started
    return ReplayReport(new.number, applied, seconds)


def _drop_new(runtime: Runtime, new: ReadModelVersion) -> None:
    drop_version(runtime.session, new)
    drop_version_keys(runtime.redis, new.redis_prefix)


def _discard(runtime: Runtime, found: ReplayCheckpoint, checkpoints: ReplayCheckpoints) -> None:
    """Forget an interrupted replay: its version if it never served, else what it replaced."""
    base = runtime.version.base
    new = ReadModelVersion(base, found.version)
    if found.switched:
        _retire(runtime, ServingVersions.of(base, found.previous), new, found.projections)
        runtime.__dict__.pop("version", None)  # the versions it switched to serve now
    else:
        _drop_new(runtime, new)
    checkpoints.clear()


def _catch_up(runtime: Runtime, consumer: Consumer, projector: Projector, plan: ReplayPlan,
              checkpoints: ReplayCheckpoints) -> int:
    return _pass(runtime, consumer, projector, plan, None, checkpoints)


@dataclass(frozen=True)
class ReplayReport:
    """What a replay did."""

    version: int
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class _RateColumn(ProgressColumn):
    """Events per second so far."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} events/s")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), _RateColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console,
    )


def _retire(runtime: Runtime, old: ServingVersions, new: ReadModelVersion,
            switched: tuple[str, ...]) -> None:
    """Drop what nobody reads any more: the old data of the switched projections, the new
    data of the others, and every version no projection points at."""
    others = [p for p in PROJECTIONS if p not in switched]
    _drop_projections(runtime, new, others)
    live_now = ServingVersions.of(old.base, {
        p: new.number if p in switched else old.number(p) for p in PROJECTIONS
    })
    for projection in switched:
        _drop_projections(runtime, old.version(projection), [projection])
    for version in old.versions() - live_now.versions():
        drop_version(runtime.session, version)
        drop_version_keys(runtime.redis, version.redis_prefix)


def _drop_projections(runtime: Runtime, version: ReadModelVersion, projections: list[str]) -> None:
    drop_tables(runtime.session, version, projections)
    for projection in projections:
        drop_kinds(runtime.redis, version.redis_prefix, kinds_of(projection))
