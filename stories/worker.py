"""`stories worker`: faust agents that fold the topics into the read models.

Each agent takes batches, decodes them (bad messages go to the dead-letter topic with the
reason and their origin, after the headers they came with), folds them with the Projector in a
thread (the stores' clients block), and only then lets faust commit the offsets. A line about
one event names the request it was sent for (streams.tracing), read from its headers only then.

Only an event that is itself wrong is set aside: one that does not decode or breaks the rules,
one the projector rejects, or one whose fold fails while the rest of its batch folds. A store
fault (core.errors.is_store_fault: a store that is away, or one that refuses the writes) is
retried with back-off for as long as it lasts; the batch is acknowledged only once it is
written, and the worker reports not ready meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import faust
import mode.loop
from confluent_kafka import Producer

import schemas
from core.clients import redis_client
from core.metrics import (
    BATCH_SECONDS,
    BATCH_SIZE,
    DEAD_LETTERS,
    EVENTS_PROJECTED,
    EXPIRY_LAG,
    FOLD_SECONDS,
    STORE_RETRIES,
)
from core.settings import Settings
from projections.projector import Event
from projections.runtime import Runtime
from stories.health import (
    ENGINE_TIMEOUT,
    EngineCheck,
    Readiness,
    StoreFaults,
    serve_health,
    track_assignment,
    update_consumer_lag,
)
from streams.agents import BatchHandler, add_batch_agent, add_timer, agent_name, with_store_backoff
from streams.broker import broker_credentials
from streams.consumer import use_batch_racing_consumer
from streams.monitor import LeanMonitor
from streams.producer import dead_letter_headers
from streams.schema_topic import SchemaTopic
from streams.topics import DEAD_LETTER, TOPICS, Topic, topic_name
from streams.tracing import Traced, traced

__all__ = ["build_app", "new_app", "run_worker", "use_uvloop", "DeadLetters", "decode_batch",
           "batch_handler", "BatchPlace"]

# A fold of a batch and each event's partition: the rejected (index, reason).
Apply = Callable[[list[Event], list[int]], list[tuple[int, str]]]
Rejection = tuple[int, str, str]  # index in the batch, reason, reason class (a metric label)
LAG_INTERVAL = 5.0  # seconds between consumer lag measurements

log = logging.getLogger(__name__)


class DeadLetters:
    """Sets messages aside with their reason; flushed before the batch's offsets commit."""

    def __init__(self, producer: Producer, topic: str, schema_topic: SchemaTopic | None = None):
        self.producer = producer
        self.topic = topic
        self.schema_topic = schema_topic  # asked before an unknown schema is set aside

    @classmethod
    def of(cls, runtime: Runtime) -> DeadLetters:
        prefix = runtime.settings.topic_prefix
        return cls(runtime.raw_producer, topic_name(DEAD_LETTER, prefix),
                   SchemaTopic(runtime.settings))

    def send(self, value: bytes | None, key: bytes | None, reason: str, origin: Any,
             kind: str) -> None:
        """Set one message aside with the headers it came with; `kind` is one of
        core.metrics.DEAD_LETTER_REASONS."""
        carried = _headers(origin)
        headers = dead_letter_headers(reason, origin.topic, origin.partition, origin.offset,
                                      carried)
        self.producer.produce(self.topic, value=value, key=key, headers=headers)
        DEAD_LETTERS.labels(origin.topic, kind).inc()
        request = traced(carried)
        log.warning("dead-lettered %s[%d]@%d: %s%s", origin.topic, origin.partition,
                    origin.offset, reason, request, extra=request.fields())

    def flush(self) -> None:
        if self.producer.flush(30):
            raise RuntimeError("dead-letter messages were not acknowledged")


def decode_batch(
    messages: Sequence[Any], allowed: frozenset[str], dead: DeadLetters
) -> tuple[list[Event], list[Any]]:
    """Decoded events and their messages; the rest are dead-lettered."""
    events: list[Event] = []
    origins: list[Any] = []
    for message in messages:
        try:
            name, record = _decode(message, dead.schema_topic)
            if name not in allowed:
                raise schemas.EventValidationError("event", f"{name} does not belong here")
        except schemas.EventError as error:
            kind = "validation" if isinstance(error, schemas.EventValidationError) else "decode"
            dead.send(message.value, message.key, str(error), message, kind)
            continue
        events.append((name, record))
        origins.append(message)
    return events, origins


def _decode(message: Any, schema_topic: SchemaTopic | None) -> Event:
    """The message's event; one written by a newer release is read once its schema is learned."""
    try:
        return schemas.decode(message.value)
    except schemas.DecodeError:
        written_at_ms = int((getattr(message, "timestamp", None) or 0) * 1000)
        if schema_topic is None or not schema_topic.learn_unknown(message.value, written_at_ms):
            raise
    return schemas.decode(message.value)


def _headers(message: Any) -> list[tuple[str, Any]]:
    """A consumed message's headers as (name, value) pairs; none when it has none."""
    headers = getattr(message, "headers", None) or ()
    return list(headers.items() if isinstance(headers, Mapping) else headers)


@dataclass(frozen=True)
class BatchPlace:
    """Where a batch lies in the log: its topic and, per partition, its first and last offset;
    for a batch of one event, the request it was sent for."""

    topic: str
    offsets: dict[int, tuple[int, int]]
    request: Traced = Traced()

    @classmethod
    def of(cls, messages: Sequence[Any], topic: str = "") -> BatchPlace:
        offsets: dict[int, tuple[int, int]] = {}
        for message in messages:
            first, last = offsets.get(message.partition, (message.offset, message.offset))
            offsets[message.partition] = (min(first, message.offset), max(last, message.offset))
        request = traced(_headers(messages[0])) if len(messages) == 1 else Traced()
        return cls(messages[0].topic if messages else topic, dict(sorted(offsets.items())),
                   request)

    def __str__(self) -> str:
        """`stories.story-lifecycle[0]@120..164, stories.story-lifecycle[3]@7..9`."""
        return ", ".join(f"{self.topic}[{partition}]@{first}..{last}"
                         for partition, (first, last) in self.offsets.items()) or self.topic

    def fields(self) -> dict[str, Any]:
        """The same as log fields (JSON lines): topic, offsets as partition: [first, last], and
        the request_id and trace_id of a batch of one."""
        return {"topic": self.topic,
                "offsets": {partition: list(span) for partition, span in self.offsets.items()},
                **self.request.fields()}


async def _project(apply: Apply, events: list[Event], partitions: list[int], topic: str,
                   faults: StoreFaults, origins: Sequence[Any] = ()) -> list[Rejection]:
    """Fold a batch; if the fold itself fails, fold event by event and set the culprits aside.

    A store fault never reaches here as an error: it is waited out inside, batch or event.
    The batch's place in the log (`origins`: its messages) is worked out only to be logged.
    """
    on_retry = partial(_note_retry, topic, faults, origins)
    try:
        rejected = await with_store_backoff(partial(apply, events, partitions), on_retry)
        return [(index, reason, "rejected") for index, reason in rejected]
    except Exception:  # a bug must not lose the batch or stop the worker
        place = BatchPlace.of(origins, topic)
        log.exception("batch of %d events failed at %s%s; retrying one by one", len(events),
                      place, place.request, extra=place.fields())
    found: list[Rejection] = []
    for index, (event, partition) in enumerate(zip(events, partitions, strict=True)):
        try:
            alone = partial(_note_retry, topic, faults, origins[index:index + 1])
            found += [(index, reason, "rejected") for _, reason in
                      await with_store_backoff(partial(apply, [event], [partition]), alone)]
        except Exception as error:  # noqa: BLE001 - reported on the dead-letter topic
            found.append((index, f"projection failed: {error!r}", "fold_error"))
    return found


def _note_retry(topic: str, faults: StoreFaults, origins: Sequence[Any], attempt: int,
                error: BaseException | None) -> None:
    faults.hold(topic)
    STORE_RETRIES.labels(topic).inc()
    place = BatchPlace.of(origins, topic)
    log.warning("store fault while projecting %s%s (attempt %d): %r; backing off, the batch is "
                "held until the store takes the writes", place, place.request, attempt, error,
                extra=place.fields())


def batch_handler(topic: Topic, fold: Apply, dead: DeadLetters, faults: StoreFaults
                  ) -> BatchHandler:
    """The handler of one input topic's batches: decode, fold, set aside, then return."""
    allowed = frozenset(topic.events)

    def apply(events: list[Event], partitions: list[int]) -> list[tuple[int, str]]:
        with FOLD_SECONDS.labels(topic.suffix).time():
            return fold(events, partitions)

    async def project(messages: list[Any]) -> None:
        BATCH_SIZE.labels(topic.suffix).observe(len(messages))
        with BATCH_SECONDS.labels(topic.suffix).time():
            events, origins = decode_batch(messages, allowed, dead)
            try:
                partitions = [origin.partition for origin in origins]
                rejected = await _project(apply, events, partitions, topic.suffix, faults,
                                          origins)
            finally:
                faults.clear(topic.suffix)
            for index, reason, kind in rejected:
                origin = origins[index]
                dead.send(origin.value, origin.key, reason, origin, kind)
            dead.flush()
        EVENTS_PROJECTED.labels(topic.suffix).inc(len(events) - len(rejected))

    project.__module__ = __name__
    return project


def _fold(current: Callable[[], Any], suffix: str, events: list[Event], partitions: list[int]
          ) -> list[tuple[int, str]]:
    result: list[tuple[int, str]] = current().apply(suffix, events, partitions)
    return result


def _make_agent(app: faust.App, runtime: Runtime, topic: Topic, fold: Apply,
                faults: StoreFaults) -> None:
    handler = batch_handler(topic, fold, DeadLetters.of(runtime), faults)
    add_batch_agent(app, topic_name(topic, runtime.settings.topic_prefix),
                    agent_name("project", topic.suffix), handler,
                    runtime.settings.worker_batch_size, within=topic.batch_within)


def use_uvloop() -> None:
    """Run the worker's loops on uvloop: faust's per-message tasks and callbacks cost less there.

    faust's own `--loop uvloop` does the same: it sets the loop policy before anything asks for
    a loop, so the app, its services and the consumer's thread all get a uvloop loop.
    """
    mode.loop.use("uvloop")


def run_worker(runtime: Runtime) -> None:
    """Run the worker until interrupted, serving /metrics, /healthz and /readyz."""
    use_uvloop()
    faults = StoreFaults()
    app = build_app(runtime, faults)
    host, port = runtime.settings.worker_metrics_host, runtime.settings.worker_metrics_port
    if port:
        readiness = Readiness(engine_check(runtime), faults)
        track_assignment(app, readiness)
        try:
            serve_health(host, port, readiness)
        except OSError as error:
            log.warning("metrics and health not served: %s:%d: %s (set "
                        "STORIES_WORKER_METRICS_HOST / STORIES_WORKER_METRICS_PORT)",
                        host, port, error)
    app.finalize()
    # Logging is set up already (core.logs): faust must not replace it.
    worker = faust.Worker(app, loglevel=runtime.settings.log_level, quiet=True,
                          override_logging=False)
    worker.spinner = None  # its terminal codes would break a line of the log; "Ready" is logged
    worker.execute_from_commandline()


def engine_check(runtime: Runtime) -> EngineCheck:
    """Redis PING and the CQL cluster's system.local, each with a short timeout."""
    ping = redis_client(runtime.settings, socket_connect_timeout=ENGINE_TIMEOUT,
                        socket_timeout=ENGINE_TIMEOUT)

    def cql() -> object:
        return runtime.session.execute("SELECT release_version FROM system.local",
                                       timeout=ENGINE_TIMEOUT).one()

    return EngineCheck({"redis": ping.ping, "cql": cql})


def build_app(runtime: Runtime, faults: StoreFaults | None = None) -> faust.App:
    """The worker's faust app: a batching agent per input topic, the expiry timer, the media worker."""
    app = new_app(runtime.settings)
    serving = runtime.serving_projector(on_expired=EXPIRY_LAG.observe, live_feed=True)
    faults = faults or StoreFaults()
    for topic in TOPICS:
        _make_agent(app, runtime, topic, partial(_fold, serving.current, topic.suffix), faults)
    add_timer(app, "consumer-lag", LAG_INTERVAL, partial(update_consumer_lag, app))
    from media.agent import add_media_agents
    from projections.expiry import add_expiry_timer

    add_expiry_timer(app, runtime)
    add_media_agents(app, runtime)
    return app


def new_app(settings: Settings) -> faust.App:
    """The faust app before its agents: its Monitor keeps nothing per message (streams.monitor),
    its consumer races a rebalance once per fetch (streams.consumer)."""
    app = faust.App(
        f"{settings.topic_prefix}-worker",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
        topic_replication_factor=settings.kafka_replication_factor,
        Monitor=LeanMonitor,
    )
    use_batch_racing_consumer(app)
    return app
