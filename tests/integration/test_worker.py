"""The worker process: Kafka in, read models out, bad messages set aside, stories expired."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer

import schemas
from core.clients import kafka_config
from harness.log import events_in_log
from projections.queries import read_tray, visible_stories
from projections.stores.keys import Kind
from projections.stores.redis_reads import stories_present
from simulation.sample import build_scenario
from streams.topics import DEAD_LETTER, topic_for, topic_name
from tests.integration.worker_helpers import PrivateDeployment, wait_until


@pytest.fixture
def deployment(local_stack, tmp_path):
    d = PrivateDeployment(local_stack, tmp_path)
    yield d
    d.close()


def emit_all(deployment, events):
    items = [(i, name, record) for i, (name, record) in enumerate(events)]
    report = deployment.runtime.events.emit_many(items)
    assert report.failures == []


def caught_up(models, world) -> bool:
    tray = read_tray(models, "user-2", int(time.time() * 1000))
    latest = {item.author_id: item.latest_story_id for item in tray}
    return (models.counters(world.story_ids["public"]).unique_viewers == 7
            and latest.get("user-0") == world.story_ids["friends"]
            and latest.get("user-1") == world.story_ids["photo"])


def dead_letters(settings, wanted: int, timeout: float = 30) -> list:
    consumer = Consumer({**kafka_config(settings),
                         "group.id": f"dlq-{uuid.uuid4()}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic_name(DEAD_LETTER, settings.topic_prefix)])
    found, deadline = [], time.monotonic() + timeout
    try:
        while len(found) < wanted and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                found.append(message)
    finally:
        consumer.close()
    return found


def test_worker_folds_the_log_and_sets_bad_messages_aside(deployment):
    settings = deployment.settings
    deployment.start_worker()
    world = build_scenario()
    raw = Producer(kafka_config(settings))
    engagement = f"{settings.topic_prefix}.engagement"
    raw.produce(engagement, value=b"random bytes, not an event")
    view = schemas.new_event("StoryViewed", actor_id="user-3", story_id=str(uuid.uuid4()),
                             author_id="user-0")
    raw.produce(f"{settings.topic_prefix}.social-graph", value=schemas.encode("StoryViewed", view))
    raw.flush(10)
    emit_all(deployment, world.events)

    models = deployment.runtime.redis_models()
    wait_until(lambda: caught_up(models, world), "the worker to fold the sample world")
    assert [s.story_id for s in visible_stories(models, "user-5", "user-0",
                                                int(time.time() * 1000))
            ] == [world.story_ids["public"]]

    # Well-formed but impossible: someone other than the author deletes a story.
    deletion = schemas.new_event("StoryDeleted", actor_id="user-5",
                                 story_id=world.story_ids["public"])
    emit_all(deployment, [("StoryDeleted", deletion)])

    letters = dead_letters(settings, 3)
    reasons = sorted(dict(m.headers())["dlq-reason"].decode() for m in letters)
    assert len(letters) == 3, deployment.logs()
    assert "user-5 is not the author" in reasons[0]
    assert "bad magic" in reasons[1]
    assert "StoryViewed does not belong" in reasons[2]
    origin = {dict(m.headers())["dlq-source-topic"].decode() for m in letters}
    assert origin == {engagement, f"{settings.topic_prefix}.social-graph",
                      f"{settings.topic_prefix}.story-lifecycle"}
    assert models.story(world.story_ids["public"]) is not None  # the worker went on


def test_two_workers_build_the_same_read_models_as_one(local_stack, tmp_path):
    results = []
    world = build_scenario()
    for workers in (1, 2):
        d = PrivateDeployment(local_stack, tmp_path / str(workers))
        (tmp_path / str(workers)).mkdir()
        try:
            for _ in range(workers):
                d.start_worker()
            emit_all(d, world.events)
            models = d.runtime.redis_models()
            wait_until(lambda m=models: caught_up(m, world), f"{workers} worker(s)", timeout=90)
            d.wait_idle()
            now = int(time.time() * 1000)
            results.append((
                {u: read_tray(models, u, now) for u in ("user-2", "user-5", "user-9")},
                {label: models.counters(sid) for label, sid in world.story_ids.items()},
            ))
        finally:
            d.close()
    assert results[0] == results[1]


def test_expiry_timer_removes_a_story_within_seconds(deployment):
    deployment.start_worker()
    story_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    posted_at = now - timedelta(seconds=3600 - 20)  # one-hour story with 20 s to live
    events = [
        ("UserFollowed", schemas.new_event("UserFollowed", actor_id="fan", followee_id="star")),
        ("StoryPosted", schemas.new_event(
            "StoryPosted", actor_id="star", occurred_at=posted_at, story_id=story_id,
            kind="TEXT", text="soon gone", lifetime_seconds=3600)),
    ]
    emit_all(deployment, events)
    models = deployment.runtime.redis_models()
    in_tray = lambda: [i.author_id for i in read_tray(models, "fan", int(time.time() * 1000))]  # noqa: E731
    wait_until(lambda: in_tray() == ["star"], "the story in the fan's tray", timeout=20)
    wait_until(lambda: models.client.hlen(models.k(Kind.AUTHOR_STORIES, "star")) == 0,
               "the expiry timer to remove the story", timeout=60)
    assert in_tray() == []
    expires_ms = int((posted_at + timedelta(seconds=3600)).timestamp() * 1000)
    lag = time.time() - expires_ms / 1000
    assert lag < 10, f"removed {lag:.1f} s after expiry"


POLLED = re.compile(r"expiry timer polls the indexes of \S+ partitions \[([0-9, ]*)\]")
LIFECYCLE_PARTITIONS = set(range(topic_for("StoryExpired").partitions))


def polled(deployment, worker: int) -> set[int] | None:
    """The lifecycle partitions whose indexes the worker's expiry timer polls now (its log)."""
    found = POLLED.findall(deployment.log_tail(f"worker-{worker}", 1_000_000))
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else None


def split_between(deployment, workers: list[int]) -> bool:
    """Each worker polls its own lifecycle partitions, and together they poll every one."""
    owned = [polled(deployment, w) for w in workers]
    if not all(owned):
        return False
    together = set().union(*owned)
    return together == LIFECYCLE_PARTITIONS and sum(map(len, owned)) == len(together)


def post_ending_in(seconds: float, count: int) -> list[tuple[str, dict]]:
    """One-hour stories of several authors, back-dated to end `seconds` from now."""
    posted_at = datetime.now(UTC) - timedelta(seconds=3600 - seconds)
    return [("StoryPosted", schemas.new_event(
        "StoryPosted", actor_id=f"author-{i % 5}", occurred_at=posted_at,
        story_id=str(uuid.uuid4()), kind="TEXT", text="soon gone", lifetime_seconds=3600))
        for i in range(count)]


def stored(models, posts) -> list[bool]:
    """Whether each posted story is among its author's stories in the read models."""
    found = stories_present(models, [(r["actor_id"], r["story_id"]) for _, r in posts])
    return found.fetch(models.client)


def test_two_workers_split_the_lifecycle_partitions_and_expire_each_story_once(deployment):
    deployment.start_worker()
    deployment.start_worker()
    wait_until(lambda: split_between(deployment, [0, 1]),
               "two workers to split the lifecycle partitions", timeout=120)
    first, second = post_ending_in(20, 24), post_ending_in(55, 24)
    emit_all(deployment, first + second)
    models = deployment.runtime.redis_models()
    wait_until(lambda: all(stored(models, first + second)), "the stories to be stored", timeout=15)

    wait_until(lambda: not any(stored(models, first)), "the first stories to expire", timeout=60)
    deployment.stop(deployment.workers[1])  # its partitions move to the other worker
    wait_until(lambda: split_between(deployment, [0]), "one worker to poll every partition",
               timeout=45)
    assert all(stored(models, second)), "the second stories expired early"
    wait_until(lambda: not any(stored(models, second)), "the second stories to expire",
               timeout=120)

    ids = {record["story_id"] for _, record in first + second}
    expired = Counter(record["story_id"] for record in events_in_log(
        deployment.settings, "StoryExpired", lambda r: r["story_id"] in ids))
    assert expired == dict.fromkeys(ids, 1), deployment.logs()
    assert "expiry_index" not in models.dump()  # every story left its partition's index
