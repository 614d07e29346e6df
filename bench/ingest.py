"""Ingest: view events per second end to end through a real worker, beside bare ceilings.

End to end runs from the first view handed to Kafka until every view is in the viewer lists
(CQL rows) and the counters (Redis). The ceilings run the same work with nothing around it, in
this process, one at a time: a confluent-kafka consumer decoding the same messages, a batched
CQL writer of the same rows (the projector's prepared statement, execute_concurrent: in the
configured batch shape, in a few other shapes and row by row), and a
pipelined Redis writer of the same updates the projector sends per view. Both the worker and
the Redis ceiling wait for `STORIES_REDIS_WAIT_REPLICAS` replicas per flush, recorded beside the
figures: run it with 0 and 1 on a cluster to see what the wait costs.

The combined ceiling is what one pipeline doing all three steps in turn on the same cores could
reach with no overhead at all: 1 / sum(1 / ceiling), with the fastest CQL write shape measured.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.concurrent import execute_concurrent
from confluent_kafka import Consumer, Producer, TopicPartition

import schemas
from core.clients import kafka_config
from core.clock import now_ms
from harness.deployment import Deployment
from harness.usage import cpu_seconds
from harness.waiting import wait_until
from projections.runtime import Runtime
from projections.stores.cql_batches import BatchShape
from projections.stores.cql_store import first_wins_ts, unlogged_batches, viewer_bucket
from schemas.rules import to_millis
from streams.producer import CONTENT_TYPE, producer_config
from streams.topics import topic_for, topic_name

__all__ = ["IngestPlan", "measure_ingest", "post_stories", "combined_ceiling", "combine_ceilings",
           "ceiling_figures", "CQL_SHAPES"]

INSIGHTS_MS = 30 * 86_400_000
# Measured beside the configured shape (STORIES_CQL_BATCH_*): the combined ceiling takes the best.
CQL_SHAPES = (BatchShape(30, 10), BatchShape(100, 50), BatchShape(250, 100))
VIEW_HEADERS: list[tuple[str, str | bytes | None]] = [("event-type", b"StoryViewed"),
                                                  ("content-type", CONTENT_TYPE)]


@dataclass(frozen=True)
class IngestPlan:
    """How many views over how many stories (each view a distinct viewer of its story)."""

    views: int
    stories: int
    seed: int = 1


@dataclass(frozen=True)
class View:
    """One view event, encoded once, and what it writes."""

    story_id: str
    author_id: str
    viewer_id: str
    event_id: str
    at_ms: int
    value: bytes


def post_stories(deployment: Deployment, authors: list[str], count: int, seed: int,
                 ) -> list[tuple[str, str]]:
    """Post text stories through the worker and wait until the read model has them all."""
    rng = random.Random(f"stories-{seed}")
    producer = deployment.runtime.events
    stories = [(str(uuid.UUID(int=rng.getrandbits(128), version=4)), authors[i % len(authors)])
               for i in range(count)]
    for story_id, author_id in stories:
        producer.send("StoryPosted", schemas.new_event(
            "StoryPosted", author_id, story_id=story_id, kind="TEXT", text="benchmark story"))
    producer.flush()
    models = deployment.runtime.redis_models()
    ids = [s for s, _ in stories]
    wait_until(lambda: all(models.story_refs(ids).values()), "the posted stories", 300, 0.05)
    return stories


def _views(stories: list[tuple[str, str]], plan: IngestPlan) -> list[View]:
    """Distinct (story, viewer) pairs, dated over the last minute, encoded as the producer would."""
    rng = random.Random(f"views-{plan.seed}")
    now = datetime.now(UTC)
    per_story = -(-plan.views // len(stories))
    views = []
    for n in range(plan.views):
        story_id, author_id = stories[n % len(stories)]
        viewer = f"viewer{n // len(stories) % per_story}"
        at = now - timedelta(milliseconds=rng.randrange(60_000))
        record = schemas.new_event("StoryViewed", viewer, occurred_at=at, story_id=story_id,
                                   author_id=author_id,
                                   event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        views.append(View(story_id, author_id, viewer, record["event_id"],
                          to_millis(record["occurred_at"]),
                          schemas.encode("StoryViewed", record)))
    return views


def _produce(settings: Any, views: list[View]) -> None:
    """Hand every view to Kafka at full speed, with the producer's own configuration."""
    producer = Producer(producer_config(kafka_config(settings)))
    topic = topic_name(topic_for("StoryViewed"), settings.topic_prefix)
    for view in views:
        while True:
            try:
                producer.produce(topic, key=view.story_id.encode(), value=view.value,
                                 headers=VIEW_HEADERS)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(60):
        raise RuntimeError("views were not acknowledged by the broker")


def _counted_views(runtime: Runtime, story_ids: list[str]) -> int:
    """Views the counters hold (one set member per view event)."""
    models = runtime.redis_models()
    return sum(models.counters(story_id).views for story_id in story_ids)


def _viewer_rows(runtime: Runtime, story_ids: list[str]) -> int:
    """Rows in the viewer lists of these stories, every bucket."""
    models = runtime.cql_models()
    keyspace = dict(models.keyspace)["engagement"]
    statement = runtime.session.prepare(
        f"SELECT COUNT(*) FROM {keyspace}.story_viewers WHERE story_id = ? AND bucket = ?")
    params = [(s, b) for s in story_ids for b in range(8)]
    results = execute_concurrent(runtime.session, [(statement, p) for p in params],
                                 concurrency=64, raise_on_first_error=True)
    return sum(rows.one()[0] for _, rows in results)


def _end_to_end(deployment: Deployment, views: list[View], baseline: int,
                pids: dict[str, int]) -> dict[str, Any]:
    """Produce everything, then poll until the counters and the viewer lists hold every view."""
    runtime, story_ids = deployment.runtime, sorted({v.story_id for v in views})
    wanted = baseline + len(views)
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.perf_counter()
    _produce(deployment.settings, views)
    produced = time.perf_counter() - began
    wait_until(lambda: _counted_views(runtime, story_ids) >= wanted, "the counters", 1800, 0.02)
    counters = time.perf_counter() - began
    seconds = counters  # the worker writes a batch's rows before its counters
    if _viewer_rows(runtime, story_ids) < wanted:
        wait_until(lambda: _viewer_rows(runtime, story_ids) >= wanted, "the viewer lists", 600,
                   0.05)
        seconds = time.perf_counter() - began
    used = {name: round((cpu_seconds(pid) - cpu[name]) / len(views) * 1e6, 1)
            for name, pid in pids.items()}
    return {"events": len(views), "seconds": round(seconds, 3),
            "rate": round(len(views) / seconds), "produce_seconds": round(produced, 3),
            "cpu_us_per_view": used}


def _kafka_ceiling(deployment: Deployment, since: dict[int, int]) -> dict[str, Any]:
    """A bare confluent-kafka consumer reading and decoding the same messages."""
    settings = deployment.settings
    topic = topic_name(topic_for("StoryViewed"), settings.topic_prefix)
    consumer = Consumer({**kafka_config(settings),
                         "group.id": f"{settings.topic_prefix}-ceiling",
                         "enable.auto.commit": False, "fetch.max.bytes": 52_428_800})
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in since}
    todo = sum(ends[p] - since[p] for p in since)
    consumer.assign([TopicPartition(topic, p, since[p]) for p in since])
    began, done = None, 0  # timed from the first message: connection set-up is not throughput
    try:
        while done < todo:
            for message in consumer.consume(5000, timeout=1.0):
                began = began or time.perf_counter()
                if not message.error():
                    schemas.decode(message.value() or b"")
                    done += 1
    finally:
        consumer.close()
    seconds = time.perf_counter() - (began or time.perf_counter())
    return {"events": done, "seconds": round(seconds, 3), "rate": round(done / seconds)}


def _chunks(items: list[View], size: int) -> list[list[View]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _viewer_rows_of(statement: Any, views: list[View], now: int) -> list[tuple[Any, tuple]]:
    """The projector's viewer rows: bucket, first-view time, TTL to expiry, first-wins stamp."""
    return [(statement, (v.story_id, viewer_bucket(v.viewer_id), v.viewer_id,
                         datetime.fromtimestamp(v.at_ms / 1000, UTC),
                         86_400 - (now - v.at_ms) // 1000, first_wins_ts(v.at_ms)))
            for v in views]


def _cql_ceiling(scratch: Runtime, views: list[View], batch: int, shape: BatchShape | None
                 ) -> dict[str, Any]:
    """The projector's viewer rows, batch by batch with execute_concurrent.

    `shape`: as unlogged batches of partitions packed up to it (what the projector sends);
    None: row by row.
    """
    statement = scratch.cql_models().stmt["view"]
    session, now = scratch.session, int(time.time() * 1000)
    began = time.perf_counter()
    for chunk in _chunks(views, batch):
        rows = _viewer_rows_of(statement, chunk, now)
        requests: list[tuple[Any, Any]] = rows if shape is None else [
            (b, None) for b in unlogged_batches(session, _by_partition(rows), shape)]
        execute_concurrent(session, requests, concurrency=64, raise_on_first_error=True)
    seconds = time.perf_counter() - began
    method = f"unlogged batches of {shape}" if shape else "one request per row"
    return {"events": len(views), "seconds": round(seconds, 3), "rate": round(len(views) / seconds),
            "method": method}


def _by_partition(rows: list[tuple[Any, tuple]]) -> dict[tuple[str, str, bytes], list[Any]]:
    """Bound rows by partition, as the projector's CQL writer buffers them."""
    partitions: dict[tuple[str, str, bytes], list[Any]] = {}
    for prepared, params in rows:
        bound = prepared.bind(params)
        partitions.setdefault((bound.keyspace, bound.table, bound.routing_key), []).append(bound)
    return partitions


def _other_shapes(deployment: Deployment, views: list[View], batch: int, configured: BatchShape
                  ) -> dict[str, dict[str, Any]]:
    """The CQL ceiling in each shape of CQL_SHAPES other than the configured one, each in its
    own scratch keyspace."""
    others = [shape for shape in CQL_SHAPES if (shape.rows, shape.partitions)
              != (configured.rows, configured.partitions)]
    return {f"cql_write_{shape.rows}x{shape.partitions}": _cql_ceiling(
                deployment.scratch_runtime(f"s{n}"), views, batch, shape)
            for n, shape in enumerate(others)}


def _redis_ceiling(scratch: Runtime, views: list[View], batch: int) -> dict[str, Any]:
    """The projector's Redis updates for views through the store's own writer, one flush per
    batch: a views script per story, one seen script for the batch's viewers."""
    models = scratch.redis_models()
    keep = now_ms() + 86_400_000 + INSIGHTS_MS
    began = time.perf_counter()
    for chunk in _chunks(views, batch):
        writes = models.batch()
        for v in chunk:
            writes.view(v.story_id, v.viewer_id, v.event_id, v.at_ms, keep)
            writes.mark_seen(v.viewer_id, v.story_id)
        writes.flush()
    seconds = time.perf_counter() - began
    return {"events": len(views), "seconds": round(seconds, 3), "rate": round(len(views) / seconds)}


def _offsets(deployment: Deployment) -> dict[int, int]:
    """Current end of each engagement partition (where this run's views will start)."""
    settings = deployment.settings
    topic = topic_for("StoryViewed")
    name = topic_name(topic, settings.topic_prefix)
    consumer = Consumer({**kafka_config(settings),
                         "group.id": f"{settings.topic_prefix}-ceiling"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                for p in range(topic.partitions)}
    finally:
        consumer.close()


def combined_ceiling(rates: Iterable[float]) -> float:
    """1 / sum(1 / rate): steps done one after another on the same cores, with no overhead."""
    found = list(rates)
    if not found or min(found) <= 0:
        raise ValueError(f"every ceiling must be a positive rate, got {found}")
    return 1 / sum(1 / rate for rate in found)


def combine_ceilings(ceilings: dict[str, dict[str, Any]], cql_shapes: dict[str, dict[str, Any]],
                     end_to_end_rate: float) -> dict[str, Any]:
    """The combined ceiling of decode, the fastest CQL shape and Redis, and end to end's ratio
    to it. `cql_shapes` maps each CQL write shape measured to its result."""
    best = max(cql_shapes, key=lambda shape: cql_shapes[shape]["rate"])
    rates = {"kafka_decode": ceilings["kafka_decode"]["rate"], "cql_write": cql_shapes[best]["rate"],
             "redis_write": ceilings["redis_write"]["rate"]}
    rate = combined_ceiling(rates.values())
    return {"combined_ceiling": {"rate": round(rate), "cql_shape": best,
                                 "cql_method": cql_shapes[best].get("method"), "of": rates},
            "ratio_to_combined": round(end_to_end_rate / rate, 3)}


def ceiling_figures(end_to_end: dict[str, Any], ceilings: dict[str, dict[str, Any]],
                    per_row: dict[str, Any], other_shapes: dict[str, dict[str, Any]] | None = None
                    ) -> dict[str, Any]:
    """End to end beside its ceilings: the slowest one and the ratio to it, the combined ceiling
    (with the fastest CQL shape: configured, `other_shapes` or row by row) and the ratio to that."""
    slowest = min(ceilings, key=lambda name: ceilings[name]["rate"])
    others = other_shapes or {}
    shapes = {"cql_write": ceilings["cql_write"], **others, "cql_write_row_by_row": per_row}
    return {"end_to_end": end_to_end, "ceilings": ceilings, "slowest_ceiling": slowest,
            "cql_write_row_by_row": per_row, "cql_write_shapes": others,
            "ratio_to_slowest": round(end_to_end["rate"] / ceilings[slowest]["rate"], 3),
            **combine_ceilings(ceilings, shapes, end_to_end["rate"])}


def measure_ingest(deployment: Deployment, stories: list[tuple[str, str]],
                   plan: IngestPlan, pids: dict[str, int]) -> dict[str, Any]:
    """End to end with the running worker, then each ceiling alone; the ratio to the slowest
    and to the combined ceiling.

    Also the engagement topic's partitions, the mean encoded size of a view event (bytes) and
    `views_before`: engagement events the deployment's topic already held when the measured
    views began (what earlier sections loaded; none when ingest runs first).

    `pids` (worker, services) get their CPU per view measured over the end-to-end run.
    """
    views = _views(stories, plan)
    baseline = _counted_views(deployment.runtime, sorted({v.story_id for v in views}))
    since = _offsets(deployment)
    end_to_end = _end_to_end(deployment, views, baseline, pids)
    deployment.wait_idle(600)
    batch = deployment.settings.worker_batch_size
    scratch = deployment.scratch_runtime("x")
    shape = BatchShape.from_settings(deployment.settings)
    ceilings = {
        "kafka_decode": _kafka_ceiling(deployment, since),
        "cql_write": _cql_ceiling(scratch, views, batch, shape),
        "redis_write": _redis_ceiling(scratch, views, batch),
    }
    per_row = _cql_ceiling(deployment.scratch_runtime("y"), views, batch, None)
    other_shapes = _other_shapes(deployment, views, batch, shape)
    return {
        "views": len(views), "views_before": sum(since.values()),
        "stories": len({v.story_id for v in views}),
        "partitions": len(since), "event_bytes": round(sum(len(v.value) for v in views) / len(views), 1),
        "batch_size": batch, "redis_wait_replicas": deployment.settings.redis_wait_replicas,
        "cpu_us_per_view": end_to_end.pop("cpu_us_per_view"),
        "cql_batch_shape": {"rows": shape.rows, "partitions": shape.partitions,
                            "value_bytes": shape.value_bytes},
        **ceiling_figures(end_to_end, ceilings, per_row, other_shapes),
        "scratch_keyspace": dict(scratch.cql_models().keyspace)["engagement"],
    }
