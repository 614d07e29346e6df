"""Which fence a flush writes on each Redis primary: one per node it wrote to, in the slot of a
key written there, so the WAIT after it covers that node's writes."""

from __future__ import annotations

import pytest
import redis
from pydantic import ValidationError
from redis.crc import key_slot

from core.settings import Settings, cluster_settings
from projections.stores.keys import Kind
from projections.stores.redis_replicas import ReplicaWait, fences_by_node, first_key, hash_tag
from projections.stores.redis_store import RedisReadModels


def fence_key(tag: str) -> str:
    return RedisReadModels(redis.Redis(), "stories:v3:", b"secret").k(Kind.FENCE, tag)


def three_nodes(key: str) -> str:
    """Slots as a three-primary cluster splits them."""
    return "abc"[key_slot(key.encode()) * 3 // 16384]


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_each_node_written_to_gets_one_fence_in_the_slot_of_a_key_it_took():
    keys = [f"stories:v3:{kind}:{{user-{n}}}" for n in range(60) for kind in ("fr", "t", "ve")]
    fences = fences_by_node(keys, three_nodes, fence_key)
    assert sorted(fences) == ["a", "b", "c"]
    for node, fence in fences.items():
        assert fence.startswith("stories:v3:fence:{")
        assert three_nodes(fence) == node
        assert slot(fence) in {slot(key) for key in keys if three_nodes(key) == node}


def test_a_node_no_key_went_to_gets_no_fence():
    keys = [key for key in (f"p:a:{{author-{n}}}" for n in range(40)) if three_nodes(key) != "b"]
    assert sorted(fences_by_node(keys, three_nodes, fence_key)) == ["a", "c"]


def test_a_global_key_is_fenced_in_its_own_slot():
    (fence,) = fences_by_node(["stories:v3:celebs"], three_nodes, fence_key).values()
    assert fence == "stories:v3:fence:{stories:v3:celebs}"
    assert slot(fence) == slot("stories:v3:celebs")


def test_a_key_whose_fence_would_land_in_another_slot_is_passed_over():
    odd = "p:fr:{}x}"  # empty tag: the whole key is hashed, and no tag can name it
    assert slot(fence_key(hash_tag(odd))) != slot(odd)
    assert fences_by_node([odd], three_nodes, fence_key) == {}


@pytest.mark.parametrize(("key", "tag"), [
    ("stories:v3:a:{ann}", "ann"),
    ("stories:v3:x", "stories:v3:x"),
    ("p:{}{ann}", "p:{}{ann}"),
    ("p:{a}{b}", "a"),
])
def test_the_hash_tag_is_what_redis_hashes(key: str, tag: str):
    assert hash_tag(key) == tag
    assert slot(f"q:{{{tag}}}") == slot(key) or "}" in tag


@pytest.mark.parametrize(("args", "key"), [
    (("SET", "p:s:{story}", "a|1", "PXAT", 5), "p:s:{story}"),
    (("DEL", "p:ve:{story}", "p:vv:{story}"), "p:ve:{story}"),
    (("EVAL", "return 1", 2, "p:rx:{story}", "p:rc:{story}", "who"), "p:rx:{story}"),
    (("EVALSHA", "abc", 0, "arg"), None),
])
def test_the_first_key_of_a_queued_command(args: tuple, key: str | None):
    assert first_key(args) == key


def test_no_wait_by_default_and_one_replica_on_the_local_cluster():
    assert ReplicaWait.from_settings(Settings(environment="test")) == ReplicaWait(0, 1000)
    assert cluster_settings().redis_wait_replicas == 1
    with pytest.raises(ValidationError):
        Settings(redis_wait_replicas=-1)
