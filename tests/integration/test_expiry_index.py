"""The expiry indexes per lifecycle partition, their claims and the timer's runs, on the real
Redis (single node and the one-node Redis Cluster) and the real broker."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from prometheus_client import REGISTRY

import schemas
from core.clients import is_cluster, redis_clustered
from core.clock import to_ms
from harness.log import events_in_log
from infra.stack.redis import cluster_url
from projections.expiry import DONE_MS, emit_due_expiries
from projections.projector import Projector
from projections.stores.base import DueExpiry
from projections.stores.expiry_index import claim_expiry, release_expiry, settle_expiry
from tests.integration.worker_helpers import PrivateDeployment

MINUTE = 60_000


@pytest.fixture(params=["redis", "redis-cluster"])
def deployment(request, local_stack, tmp_path):
    """Topics and read models of their own, on a single Redis node or the Redis Cluster (the
    stack's one-node cluster; on the local cluster, its Redis is the cluster both times)."""
    one_node_cluster = request.param == "redis-cluster" and not redis_clustered(local_stack)
    cluster = {"redis_url": cluster_url(local_stack)} if one_node_cluster else {}
    d = PrivateDeployment(local_stack, tmp_path, **cluster)
    yield d
    d.close()


def _post(projector, minutes_left: int, partition: int) -> dict:
    occurred = datetime.now(UTC) - timedelta(minutes=60 - minutes_left)
    record = schemas.new_event("StoryPosted", "author", occurred_at=occurred,
                               story_id=str(uuid.uuid4()), kind="TEXT", text="soon gone",
                               lifetime_seconds=3600)
    assert projector.apply_lifecycle([("StoryPosted", record)], [partition]) == []
    return record


def _an_hour_behind(runtime) -> Projector:
    """A projector whose clock is an hour late: it still folds stories that have ended as active."""
    return Projector(runtime.redis_models(), runtime.cql_models(),
                     clock=lambda: time.time() - 3600)


def _expired_in_log(deployment, story_ids: set[str]) -> Counter[str]:
    """How many StoryExpired the log holds for each of these stories."""
    found = events_in_log(deployment.settings, "StoryExpired", lambda r: r["story_id"] in story_ids)
    return Counter(record["story_id"] for record in found)


def _backlog() -> tuple[float | None, float | None]:
    """The expiry backlog gauges as the timer's last run left them."""
    return (REGISTRY.get_sample_value("stories_expiry_backlog"),
            REGISTRY.get_sample_value("stories_expiry_backlog_age_seconds"))


def _now() -> int:
    return to_ms(datetime.now(UTC))


def test_stories_come_due_from_their_partitions_index_in_expiry_order(stores):
    projector = stores.fresh()
    later, sooner = _post(projector, 20, partition=3), _post(projector, 10, partition=3)
    elsewhere = _post(projector, 5, partition=1)
    models, now = projector.redis, _now()
    assert models.due_expiries([3], now, 10) == []
    due = models.due_expiries([3], now + 30 * MINUTE, 10)
    assert due == [DueExpiry(r["story_id"], "author", to_ms(r["expires_at"]), 3)
                   for r in (sooner, later)]
    assert models.due_expiries([3], now + 30 * MINUTE, 1) == due[:1]
    assert [d.story_id for d in models.due_expiries([1, 3], now + 30 * MINUTE, 10)] == [
        elsewhere["story_id"], sooner["story_id"], later["story_id"]]


def test_one_claim_per_story_until_released_or_settled(stores):
    projector = stores.fresh()
    story_id = _post(projector, 5, partition=0)["story_id"]
    models = projector.redis
    assert claim_expiry(models, story_id, 30_000)
    assert not claim_expiry(models, story_id, 30_000)  # another worker emits it
    release_expiry(models, story_id)
    assert claim_expiry(models, story_id, 30_000)  # not acknowledged: tried again
    settle_expiry(models, story_id, 60_000)
    assert not claim_expiry(models, story_id, 30_000)  # acknowledged: never again


def test_a_worker_expires_the_stories_of_the_partitions_it_owns_once(deployment):
    runtime = deployment.runtime
    projector = _an_hour_behind(runtime)
    first, second = _post(projector, -10, partition=1), _post(projector, -5, partition=4)
    not_yet = _post(projector, 40, partition=1)

    assert emit_due_expiries(runtime, [0, 2, 3, 5]) == 0
    assert _backlog() == (0, 0)
    assert emit_due_expiries(runtime, [1]) == 1
    assert emit_due_expiries(runtime, [1, 4]) == 1  # the first one was emitted already
    count, age = _backlog()  # both still indexed: no worker folds their StoryExpired here
    assert count == 2 and 600 <= age < 660, (count, age)
    ids = {r["story_id"] for r in (first, second, not_yet)}
    assert _expired_in_log(deployment, ids) == {first["story_id"]: 1, second["story_id"]: 1}


def test_the_timer_tells_the_authors_feed_of_the_end_once_the_broker_has_it(deployment):
    """`ended` on the story's channel as soon as StoryExpired is acknowledged: the feed does
    not wait for the lifecycle fold (here no worker folds at all)."""
    runtime = deployment.runtime
    story_id = _post(_an_hour_behind(runtime), -1, partition=3)["story_id"]
    models = runtime.redis_models()
    live = models.client.pubsub()
    live.ssubscribe(models.live_channel(story_id))
    read = live.get_sharded_message if is_cluster(live) else live.get_message
    read(timeout=1)  # the subscription itself
    try:
        assert emit_due_expiries(runtime, [3]) == 1
        note = read(timeout=5)
        assert note is not None and orjson.loads(note["data"]) == [
            {"type": "ended", "story_id": story_id}]
        assert emit_due_expiries(runtime, [3]) == 0  # emitted once, told once
        assert read(timeout=0.5) is None
    finally:
        live.close()


def test_an_emitted_entry_that_no_fold_removed_leaves_its_index(deployment):
    """As after the partition count changed: the StoryExpired is folded on another partition."""
    runtime = deployment.runtime
    story_id = _post(_an_hour_behind(runtime), -5, partition=2)["story_id"]
    models = runtime.redis_models()
    assert emit_due_expiries(runtime, [2]) == 1
    assert [d.story_id for d in models.due_expiries([2], _now(), 10)] == [story_id]
    assert emit_due_expiries(runtime, [2]) == 0
    assert models.due_expiries([2], _now(), 10) == []
    assert _expired_in_log(deployment, {story_id}) == {story_id: 1}


def test_the_old_single_index_is_drained_by_the_owner_of_partition_0(deployment):
    runtime = deployment.runtime
    models, now = runtime.redis_models(), _now()
    old = models.expiry_index(None)
    due, emitted_before, not_yet = (str(uuid.uuid4()) for _ in range(3))
    # As a worker of the earlier release left it: one index, one entry already emitted.
    models.client.zadd(old, {f"{due}|ann": now - MINUTE, f"{emitted_before}|ann": now - 2 * MINUTE,
                             f"{not_yet}|ann": now + 2000})
    settle_expiry(models, emitted_before, DONE_MS)

    assert emit_due_expiries(runtime, [1, 2]) == 0  # not theirs to drain
    assert models.client.zcard(old) == 3
    assert emit_due_expiries(runtime, [0]) == 1
    assert emit_due_expiries(runtime, [0]) == 0  # what was emitted leaves the old index
    assert models.client.zrange(old, 0, -1) == [f"{not_yet}|ann".encode()]
    time.sleep(max(0.0, (now + 2000 - _now()) / 1000))
    assert emit_due_expiries(runtime, [0]) == 1
    assert emit_due_expiries(runtime, [0]) == 0
    assert not models.client.exists(old)
    assert _expired_in_log(deployment, {due, emitted_before, not_yet}) == {due: 1, not_yet: 1}
