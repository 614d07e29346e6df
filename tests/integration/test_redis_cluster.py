"""The serving paths on the stack's one-node Redis Cluster (every command's keys in one slot,
or refused): the gateway's asyncio reads through the cluster client, the expiry index and its
claims, dropping a version, the gateway's and media's own keys, scripts after a cache flush."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest

from core.clients import is_cluster, redis_async_client, redis_client, redis_clustered
from core.settings import Settings
from gateway.idempotency import ClaimState, IdempotencyKeys
from gateway.ratelimit import WriteLimiter
from infra.stack.redis import cluster_url
from media.schedule import MediaSchedule
from projections.projector import ProjectionPolicy, Projector
from projections.queries import (
    CelebrityHints,
    read_tray,
    read_tray_async,
    tray_plan,
    visible_stories,
    visible_stories_async,
)
from projections.stores.expiry_index import claim_expiry, release_expiry, settle_expiry
from projections.stores.memory import MemoryRecordStore
from projections.stores.redis_reads import pipelined
from projections.stores.redis_store import RedisReadModels
from projections.stores.redis_versions import drop_version_keys
from simulation.sample import build_scenario, by_topic

SECRET = b"cluster-secret"


@pytest.fixture(scope="module")
def cluster(local_stack: Settings) -> Settings:
    """The stack's one-node cluster, or the local cluster's Redis when the stack is that."""
    if redis_clustered(local_stack):
        return local_stack
    return local_stack.model_copy(update={"redis_url": cluster_url(local_stack)})


def test_live_notes_reach_an_author_subscribed_to_the_story_on_the_cluster(cluster: Settings):
    models = RedisReadModels(redis_client(cluster), f"k{uuid.uuid4().hex[:10]}:", SECRET)
    stories = [str(uuid.uuid4()) for _ in range(5)]  # several slots: a pipeline per node

    async def listen() -> list[dict]:
        client = redis_async_client(cluster)
        await client.initialize()
        pubsub = client.pubsub()
        try:
            await pubsub.ssubscribe(models.live_channel(stories[0]))
            await asyncio.to_thread(models.publish, [{"story_id": s, "type": "view"} for s in stories])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = await pubsub.get_sharded_message(ignore_subscribe_messages=True,
                                                           timeout=1.0)
                if message is not None:
                    return orjson.loads(message["data"])
            return []
        finally:
            await pubsub.aclose()
            await client.aclose()

    assert asyncio.run(listen()) == [{"story_id": stories[0], "type": "view"}]


def _project(projector: Projector, events) -> None:
    for topic, topic_events in by_topic(events).items():
        apply = {"story-lifecycle": projector.apply_lifecycle,
                 "engagement": projector.apply_engagement,
                 "social-graph": projector.apply_graph,
                 "highlights": projector.apply_highlights}[topic]
        for i in range(0, len(topic_events), 5):
            assert apply(topic_events[i:i + 5]) == []


def test_reads_on_the_cluster_equal_those_on_a_single_node(local_stack: Settings,
                                                            cluster: Settings):
    world = build_scenario()
    single = redis_client(local_stack)
    client = redis_client(cluster)
    assert is_cluster(client)
    # Prefixes of their own: against the local cluster, `single` is that cluster too.
    prefix, single_prefix = (f"k{uuid.uuid4().hex[:10]}:" for _ in range(2))
    # threshold 2: some authors are celebrities, merged into trays at read time
    policy = ProjectionPolicy(fanout_threshold=2)
    on_cluster = Projector(RedisReadModels(client, prefix, SECRET), MemoryRecordStore(), policy)
    on_one_node = Projector(RedisReadModels(single, single_prefix, SECRET), MemoryRecordStore(),
                            policy)
    _project(on_cluster, world.events)
    _project(on_one_node, world.events)
    assert on_cluster.redis.dump()["celebrities"]
    now = int(time.time() * 1000)
    viewers = [f"user-{n}" for n in range(10)]
    async_client = redis_async_client(cluster)

    async def async_reads():
        trays = [(await read_tray_async(on_cluster.redis, async_client, v, now)).items
                 for v in viewers]
        stories = [await visible_stories_async(on_cluster.redis, async_client, v, "user-0", now)
                   for v in viewers]
        await async_client.aclose()
        return trays, stories

    try:
        trays, stories = asyncio.run(async_reads())
        assert trays == [read_tray(on_cluster.redis, v, now) for v in viewers]
        assert trays == [read_tray(on_one_node.redis, v, now) for v in viewers]
        assert any(trays)
        assert stories == [visible_stories(on_one_node.redis, v, "user-0", now) for v in viewers]
        ids = list(world.story_ids.values())
        assert on_cluster.redis.story_refs(ids) == on_one_node.redis.story_refs(ids)
        assert on_cluster.redis.deleted(ids) == on_one_node.redis.deleted(ids)
        assert on_cluster.redis.dump() == on_one_node.redis.dump()

        models = on_cluster.redis
        due = models.due_expiries(range(6), now + 10 * 86_400_000, 100)
        assert {d.story_id for d in due} <= set(ids) and due
        story = due[0].story_id
        assert claim_expiry(models, story, 30_000) and not claim_expiry(models, story, 30_000)
        release_expiry(models, story)
        assert claim_expiry(models, story, 30_000)
        settle_expiry(models, story, 60_000)
        assert not claim_expiry(models, story, 30_000)
    finally:
        drop_version_keys(single, single_prefix)
        single.close()
        assert drop_version_keys(client, prefix) > 0
        assert not list(client.scan_iter(match=f"{prefix}*"))
        client.close()


def test_gateway_and_media_keys_and_scripts_after_a_cache_flush(cluster: Settings):
    client = redis_client(cluster)
    prefix = f"k{uuid.uuid4().hex[:10]}:gw:"
    try:
        keys = IdempotencyKeys(client, prefix, ttl_seconds=60, stale_seconds=30)
        claim = keys.claim("ann", "key-1", "fp")
        assert claim.state is ClaimState.NEW
        client.script_flush()  # as after a failover: the node no longer knows the scripts
        keys.complete("ann", "key-1", claim)
        assert keys.claim("ann", "key-1", "fp").state is ClaimState.DONE
        WriteLimiter(client, prefix, 60, {"write": 5}).spend("ann", "write")
        schedule = MediaSchedule(client, prefix)
        token = schedule.claim("story-1", 10_000)
        assert token is not None
        client.script_flush()
        schedule.unclaim("story-1", token)
        assert schedule.claim_left_ms("story-1") == 0
    finally:
        drop_version_keys(client, prefix)
        client.close()


@pytest.mark.parametrize("on", ["single-node", "cluster"])
def test_a_hinted_tray_takes_one_round_trip_and_never_shows_an_unfollowed_author(
        on: str, local_stack: Settings, cluster: Settings):
    settings = cluster if on == "cluster" else local_stack
    models = RedisReadModels(redis_client(settings), f"k{uuid.uuid4().hex[:10]}:", SECRET)
    projector = Projector(models, MemoryRecordStore(), ProjectionPolicy(fanout_threshold=2))
    _project(projector, build_scenario().events)
    now = int(time.time() * 1000)
    celebrities = set(models.dump()["celebrities"])
    everyone = [f"user-{n}" for n in range(40)]
    authors = {a for a, stories in models.authors_stories(everyone).items() if stories}
    viewers = [v for v in (f"user-{n}" for n in range(10)) if models.following(v) & celebrities]
    assert viewers, "the scenario has viewers following celebrities"
    hints, stale_hints_checked = CelebrityHints(), 0
    for viewer in viewers:
        plain, trips = _round_trips(tray_plan(models, viewer, now), models.client)
        assert trips == (3 if on == "cluster" else 2)
        assert _round_trips(tray_plan(models, viewer, now, hints=hints), models.client)[0] == plain
        hinted, trips = _round_trips(tray_plan(models, viewer, now, hints=hints), models.client)
        assert (hinted, trips) == (plain, 1)
        # A hint naming authors the viewer does not follow shows nothing of them.
        strangers = authors - models.following(viewer) - {viewer}
        if strangers:
            stale_hints_checked += 1
            following, named = hints.of(viewer) or ((), ())
            hints.remember(viewer, following, (*named, *sorted(strangers)))
            stale, _ = _round_trips(tray_plan(models, viewer, now, hints=hints), models.client)
            assert stale == plain and not strangers & {item.author_id for item in stale.items}
    assert stale_hints_checked


def _round_trips(plan, client):
    """A read plan's result and how many round trips it took."""
    trips = 0
    try:
        commands = next(plan)
        while True:
            trips += 1
            commands = plan.send(pipelined(client, commands).execute())
    except StopIteration as done:
        return done.value, trips
