"""A store that refuses the product's writes is a store fault, not a bad event.

The worker's batch handler folds into a Redis of the test's own; while that Redis refuses
writes (out of memory under `noeviction`), the batch is held and retried, the worker is not
ready, and nothing is dead-lettered; once the Redis takes writes again every event is folded.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import redis
from confluent_kafka import Producer

import schemas
from core.clients import kafka_config
from core.metrics import DEAD_LETTERS, STORE_RETRIES
from harness.processes import free_port
from projections.projector import ProjectionPolicy, Projector
from projections.stores.redis_store import RedisReadModels
from stories.health import Readiness, StoreFaults
from stories.worker import DeadLetters, batch_handler
from streams.producer import producer_config
from streams.topics import DEAD_LETTER, topic_for, topic_name
from tests.integration.test_worker import dead_letters


@dataclass
class Message:
    """What the handler reads of a faust message."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None


@pytest.fixture
def own_redis(tmp_path: Path):
    """A redis-server of the test's own, so its configuration can be broken and restored."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield client
    client.close()
    process.terminate()
    process.wait(10)


def _count(counter, *labels: str) -> float:
    return counter.labels(*labels)._value.get()


def _follows(pairs: list[tuple[str, str]], topic: str) -> list[Message]:
    return [
        Message(topic, 0, offset, schemas.encode("UserFollowed", schemas.new_event(
            "UserFollowed", actor_id=fan, followee_id=star)))
        for offset, (fan, star) in enumerate(pairs)
    ]


def test_writes_refused_by_redis_are_held_until_it_takes_them(own_redis, stores, local_stack,
                                                               topic_prefix):
    topic = topic_for("UserFollowed")
    models = RedisReadModels(own_redis, f"sf{uuid.uuid4().hex[:8]}:", b"test-secret")
    projector = Projector(models, stores.cql, ProjectionPolicy())
    dead = DeadLetters(Producer(producer_config(kafka_config(local_stack))),
                       topic_name(DEAD_LETTER, topic_prefix))
    faults = StoreFaults()
    readiness = Readiness(lambda: [], faults)
    readiness.assigned = True
    handle = batch_handler(topic, partial(projector.apply, topic.suffix), dead, faults)
    source = topic_name(topic, topic_prefix)
    pairs = [(f"fan-{i}", f"star-{i}") for i in range(5)]
    retries_before = _count(STORE_RETRIES, topic.suffix)
    dead_before = sum(_count(DEAD_LETTERS, source, kind)
                      for kind in ("decode", "validation", "rejected", "fold_error"))

    own_redis.config_set("maxmemory-policy", "noeviction")
    own_redis.config_set("maxmemory", 1)  # every write is refused: OOM

    async def scenario() -> None:
        task = asyncio.create_task(handle(_follows(pairs, source)))
        deadline = time.monotonic() + 20
        while _count(STORE_RETRIES, topic.suffix) < retries_before + 3:
            assert not task.done(), task.exception()
            assert time.monotonic() < deadline, "the refused writes were never retried"
            await asyncio.sleep(0.05)
        assert faults.active() == [topic.suffix]
        assert any("store fault" in problem for problem in readiness.problems())
        assert not any(models.follows(fan, star) for fan, star in pairs)

        own_redis.config_set("maxmemory", 0)  # the store is fixed
        await asyncio.wait_for(task, 30)

    asyncio.run(scenario())

    assert all(models.follows(fan, star) for fan, star in pairs)
    assert faults.active() == []
    assert readiness.problems() == []
    assert sum(_count(DEAD_LETTERS, source, kind)
               for kind in ("decode", "validation", "rejected", "fold_error")) == dead_before
    assert dead_letters(_settings(local_stack, topic_prefix), 1, timeout=3) == []


def test_an_event_whose_fold_fails_alone_is_set_aside_and_the_rest_folded(
        own_redis, stores, local_stack, topic_prefix):
    topic = topic_for("UserFollowed")
    models = RedisReadModels(own_redis, f"sf{uuid.uuid4().hex[:8]}:", b"test-secret")
    projector = Projector(models, stores.cql, ProjectionPolicy())
    dead = DeadLetters(Producer(producer_config(kafka_config(local_stack))),
                       topic_name(DEAD_LETTER, topic_prefix))

    def fold(events, partitions):
        if any(record["actor_id"] == "fan-2" for _, record in events):
            raise RuntimeError("a fold bug this event triggers")
        return projector.apply(topic.suffix, events, partitions)

    handle = batch_handler(topic, fold, dead, StoreFaults())
    source = topic_name(topic, topic_prefix)
    pairs = [(f"fan-{i}", f"star-{i}") for i in range(5)]
    before = _count(DEAD_LETTERS, source, "fold_error")

    asyncio.run(handle(_follows(pairs, source)))

    assert [models.follows(fan, star) for fan, star in pairs] == [True, True, False, True, True]
    assert _count(DEAD_LETTERS, source, "fold_error") == before + 1
    letters = dead_letters(_settings(local_stack, topic_prefix), 1)
    assert len(letters) == 1
    assert "a fold bug" in dict(letters[0].headers())["dlq-reason"].decode()


def _settings(settings, prefix: str):
    return settings.model_copy(update={"topic_prefix": prefix})
