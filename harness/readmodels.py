"""Read models dumped entry by entry, so two states (serving and replayed) can be compared.

`redis_dump` is every raw key under a prefix; `entries` is the read models only, as the stores
read them back (coordination such as the expiry timer's claims left out), one entry per owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from projections.stores.cql_store import VIEWER_BUCKETS, CqlReadModels
from projections.stores.keys import Kind
from projections.stores.redis_dump import redis_dump as read_models_of
from projections.stores.redis_store import RedisReadModels

__all__ = ["redis_dump", "entries", "viewer_rows", "differing"]


def _value(client: redis.Redis, key: bytes, kind: str) -> Any:
    if kind == "hash":
        return dict(client.hgetall(key))
    if kind == "set":
        return sorted(client.smembers(key))
    if kind == "zset":
        return client.zrange(key, 0, -1, withscores=True)
    return client.get(key)


_COORDINATION = (Kind.FENCE, Kind.AUTHOR_VERSION, Kind.TRAY_VERSIONS)


def redis_dump(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under a prefix (without it) with its value; TTLs left out, and the keys that
    coordinate writers rather than hold a read model: the fences of the replica wait (a write
    per flush) and the versions of authors' stories and of tray entries (from the clock)."""
    dump = {}
    left_out = tuple(f"{prefix}{kind}:" for kind in _COORDINATION)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        if key.decode().startswith(left_out):
            continue
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        dump[key.decode()[len(prefix):]] = _value(client, key, kind)
    return dump


def entries(models: RedisReadModels) -> dict[str, Any]:
    """Every read-model entry of these versions: `<part>:<owner>` to its value."""
    flat: dict[str, Any] = {}
    for part, value in read_models_of(models).items():
        if isinstance(value, dict):
            flat.update({f"{part}:{owner}": held for owner, held in value.items()})
        else:
            flat.update({f"{part}:{member}": True for member in value})
    return flat


def viewer_rows(cql: CqlReadModels, story_ids: Iterable[str]) -> list[tuple]:
    """Every viewer entry of these stories, over every bucket, sorted."""
    return sorted(
        (story_id, *entry) for story_id in story_ids
        for bucket in range(VIEWER_BUCKETS) for entry in cql.viewers_page(story_id, bucket, "", 1000)
    )


def differing(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Keys present on one side only or with different values, sorted."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
