"""The Redis layout is cluster-safe: the keys of one owner share a slot, and cluster mode is a
setting (a `redis+cluster://` URL or STORIES_REDIS_CLUSTER)."""

from __future__ import annotations

import redis
from redis.crc import key_slot

from core.clients import is_cluster, redis_client, redis_clustered, redis_plain_url
from core.settings import Settings
from infra.stack.control import SERVICE_NAMES
from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

VIEWER = (Kind.TRAY_ORDER, Kind.TRAY_ENTRIES, Kind.SEEN, Kind.FOLLOWING, Kind.FOLLOWERS,
          Kind.CLOSE_FRIENDS)
STORY = (Kind.STORY_REF, Kind.DELETED, Kind.INSIGHTS_OWNER, Kind.EXPIRY_CLAIM, Kind.VIEW_EVENTS,
         Kind.VIEWERS, Kind.REPLIES, Kind.REACTORS, Kind.REACTION_COUNTS, Kind.ANSWERERS,
         Kind.STICKER_COUNTERS)


def models() -> RedisReadModels:
    return RedisReadModels(redis.Redis(), "stories:v3:", b"secret")


def slots(keys: list[str]) -> set[int]:
    return {key_slot(key.encode()) for key in keys}


def test_an_owners_keys_share_one_slot_and_owners_spread():
    m = models()
    assert len(slots([m.k(kind, "ann") for kind in VIEWER])) == 1
    assert len(slots([m.k(kind, "story-1") for kind in STORY])) == 1
    assert len(slots([m.k(Kind.AUTHOR_STORIES, f"author-{n}") for n in range(50)])) > 40


def test_the_owner_is_the_hash_tag_inside_the_versions_prefix():
    m = models()
    assert m.k(Kind.AUTHOR_STORIES, "ann") == "stories:v3:a:{ann}"
    assert m.k(Kind.CELEBRITIES) == "stories:v3:celebs"  # global: a slot of its own


def test_cluster_mode_is_a_url_scheme_or_a_flag():
    assert not redis_clustered(Settings())
    assert redis_clustered(Settings(redis_url="redis+cluster://10.0.0.1:7000"))
    assert redis_clustered(Settings(redis_cluster=True))
    assert redis_plain_url("redis+cluster://h:7000/0") == "redis://h:7000/0"
    assert redis_plain_url("rediss://h:6380/2") == "rediss://h:6380/2"


def test_a_single_node_client_is_no_cluster():
    single = redis_client(Settings())
    assert not is_cluster(single) and not is_cluster(single.pipeline(transaction=False))


def test_the_stack_starts_a_cluster_enabled_redis():
    assert "redis-cluster" in SERVICE_NAMES
