"""`stories worker`: faust agents that fold the topics into the read models.

Each agent takes batches, decodes them (bad messages go to the dead-letter topic with the
reason and their origin), folds them with the Projector in a thread (the stores' clients
block), and only then lets faust commit the offsets. A store that is away is retried with
backoff, never skipped: the batch is acknowledged only once it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import faust

import schemas
from core.metrics import (
    BATCH_SECONDS,
    DEAD_LETTERS,
    EVENTS_PROJECTED,
    EXPIRY_LAG,
    STORE_RETRIES,
)
from projections.projector import Event
from projections.runtime import Runtime, ServingProjector
from streams.agents import add_batch_agent, agent_name, with_store_backoff
from streams.producer import dead_letter_headers
from streams.topics import DEAD_LETTER, TOPICS, Topic, topic_name

__all__ = ["build_app", "run_worker", "DeadLetters", "decode_batch"]

log = logging.getLogger(__name__)


class DeadLetters:
    """Sets messages aside with their reason; flushed before the batch's offsets commit."""

    def __init__(self, runtime: Runtime):
        self.producer = runtime.raw_producer
        self.topic = topic_name(DEAD_LETTER, runtime.settings.topic_prefix)

    def send(self, value: bytes | None, key: bytes | None, reason: str, origin: Any) -> None:
        headers = dead_letter_headers(reason, origin.topic, origin.partition, origin.offset)
        self.producer.produce(self.topic, value=value, key=key, headers=headers)
        DEAD_LETTERS.labels(origin.topic).inc()
        log.warning("dead-lettered %s[%d]@%d: %s", origin.topic, origin.partition,
                    origin.offset, reason)

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
            name, record = schemas.decode(message.value)
            if name not in allowed:
                raise schemas.EventValidationError("event", f"{name} does not belong here")
        except schemas.EventError as error:
            dead.send(message.value, message.key, str(error), message)
            continue
        events.append((name, record))
        origins.append(message)
    return events, origins


async def _write_with_backoff(apply: Callable[[list[Event]], list[tuple[int, str]]],
                              events: list[Event], topic: str) -> list[tuple[int, str]]:
    """Run the fold in a thread; a store that is away is retried until it is back."""
    return await with_store_backoff(partial(apply, events), partial(_note_retry, topic))


async def _project(apply: Callable[[list[Event]], list[tuple[int, str]]],
                   events: list[Event], topic: str) -> list[tuple[int, str]]:
    """Fold a batch; if the fold itself fails, fold event by event and set the culprits aside."""
    try:
        return await _write_with_backoff(apply, events, topic)
    except Exception:  # a bug must not lose the batch or stop the worker
        log.exception("batch of %d %s events failed; retrying one by one", len(events), topic)
    rejected: list[tuple[int, str]] = []
    for index, event in enumerate(events):
        try:
            rejected += [(index, reason) for _, reason in
                         await _write_with_backoff(apply, [event], topic)]
        except Exception as error:  # noqa: BLE001 - reported on the dead-letter topic
            rejected.append((index, f"projection failed: {error!r}"))
    return rejected


def _note_retry(topic: str, attempt: int, error: BaseException | None) -> None:
    STORE_RETRIES.labels(topic).inc()
    log.warning("store unavailable while projecting %s (attempt %d): %s; backing off",
                topic, attempt, error)


def _make_agent(app: faust.App, runtime: Runtime, topic: Topic, serving: ServingProjector) -> None:
    def apply(events: list[Event]) -> list[tuple[int, str]]:
        return serving.current().apply(topic.suffix, events)

    allowed = frozenset(topic.events)
    dead = DeadLetters(runtime)

    async def project(messages: list[Any]) -> None:
        with BATCH_SECONDS.labels(topic.suffix).time():
            events, origins = decode_batch(messages, allowed, dead)
            rejected = await _project(apply, events, topic.suffix)
            for index, reason in rejected:
                origin = origins[index]
                dead.send(origin.value, origin.key, reason, origin)
            dead.flush()
        EVENTS_PROJECTED.labels(topic.suffix).inc(len(events) - len(rejected))

    add_batch_agent(app, topic_name(topic, runtime.settings.topic_prefix),
                    agent_name("project", topic.suffix), project,
                    runtime.settings.worker_batch_size, within=0.05)


def run_worker(runtime: Runtime) -> None:
    """Run the worker until interrupted, exposing Prometheus metrics."""
    from prometheus_client import start_http_server

    port = runtime.settings.worker_metrics_port
    if port:
        try:
            start_http_server(port, addr="127.0.0.1")
        except OSError as error:
            log.warning("metrics not served: port %d: %s (set STORIES_WORKER_METRICS_PORT)",
                        port, error)
    app = build_app(runtime)
    app.finalize()
    worker = faust.Worker(app, loglevel="INFO", quiet=True, override_logging=False)
    worker.execute_from_commandline()


def build_app(runtime: Runtime) -> faust.App:
    """The worker's faust app: a batching agent per input topic, the expiry timer, the media worker."""
    settings = runtime.settings
    app = faust.App(
        f"{settings.topic_prefix}-worker",
        broker=f"kafka://{settings.kafka_bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
        topic_replication_factor=settings.kafka_replication_factor,
    )
    serving = runtime.serving_projector(on_expired=EXPIRY_LAG.observe, live_feed=True)
    for topic in TOPICS:
        _make_agent(app, runtime, topic, serving)
    from media.agent import add_media_agents
    from projections.expiry import add_expiry_timer

    add_expiry_timer(app, runtime)
    add_media_agents(app, runtime)
    return app
