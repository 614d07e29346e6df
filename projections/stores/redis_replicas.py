"""Waiting for Redis replicas before a flush of the read models counts as written.

Redis replicates asynchronously: a write its primary acknowledged is lost if a replica that
never received it takes over. The worker commits a batch's offsets once the flush returns, so
with `STORIES_REDIS_WAIT_REPLICAS=n` the flush returns only once n replicas of every primary
it wrote to hold its writes. WAIT counts the writes of its own connection: on a single node it
is the pipeline's last command; on a cluster, whose pipeline spreads over one connection per
node, each primary written to gets a fence - a SET in the slot of a key written there, then a
WAIT on the same connection. Replication is ordered: a replica holding the fence holds every
write the primary took before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from core.errors import ReplicasBehind
from core.metrics import REDIS_UNREPLICATED
from core.settings import Settings

__all__ = ["NO_WAIT", "ReplicaWait", "Replicas", "fences_by_node", "first_key", "hash_tag", "queued_keys"]

log = logging.getLogger(__name__)

FENCE_TTL_MS = 60_000  # the fence matters as a write, not as a value: it can go soon after
WARN_EVERY_S = 60.0


@dataclass(frozen=True)
class ReplicaWait:
    """How many replicas of a primary must acknowledge a flush (0: none), within how long."""

    replicas: int = 0
    timeout_ms: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplicaWait:
        return cls(settings.redis_wait_replicas, settings.redis_wait_timeout_ms)


NO_WAIT = ReplicaWait()  # checks, tools and the gateway: nothing commits offsets after them


class Replicas:
    """Holds a flush until replicas have its writes; one per store, remembering which primaries
    lack replicas and pacing its warnings."""

    def __init__(self, wait: ReplicaWait, fence_key: Callable[[str], str],
                 clock: Callable[[], float] = time.monotonic):
        self.wait = wait
        self.fence_key = fence_key  # hash tag -> a fence key in that tag's slot
        self.clock = clock
        self._attached: dict[str, int] = {}  # node -> replicas attached when last short of them
        self._warned_at: float | None = None

    def queue_wait(self, pipe: Any, node_name: str = "") -> None:
        """WAIT as the pipeline's last command, on the connection of its writes (a single
        node's whole pipeline, or a cluster node's fence)."""
        pipe.execute_command("WAIT", self._asked(node_name), self.wait.timeout_ms)

    def _asked(self, node_name: str) -> int:
        """As many replicas as configured, but no more than a node short of them has attached:
        waiting for one that is not there would cost the whole timeout at every flush."""
        return min(self.wait.replicas, self._attached.get(node_name, self.wait.replicas))

    def fence_cluster(self, cluster: Any, keys: Iterable[str]) -> None:
        """Cluster: a fence and a WAIT on every primary that took some of these keys.
        (`cluster`: a `redis.cluster.RedisCluster`, whose node lookups redis-py leaves untyped.)"""
        fences = fences_by_node(keys, lambda key: cluster.get_node_from_key(key).name,
                                self.fence_key)
        for name, fence in fences.items():
            node = cluster.get_redis_connection(cluster.get_node(node_name=name))
            self.settle(node, self._fence(node, name, fence), name)

    def _fence(self, node: redis.Redis, node_name: str, fence: str) -> int:
        """The number of replicas that acknowledged a fence written on one connection."""
        pipe = node.pipeline(transaction=False)
        pipe.set(fence, 1, px=FENCE_TTL_MS)
        self.queue_wait(pipe, node_name)
        return int(pipe.execute()[-1])

    def settle(self, node: redis.Redis, acked: int, node_name: str = "") -> None:
        """Too few acknowledgements: a connected replica that has not acknowledged yet makes it
        a store fault (the batch is retried); replicas missing altogether cannot take over
        either, so the flush goes on, counted and logged."""
        if acked >= self.wait.replicas:
            self._attached.pop(node_name, None)
            return
        attached = int(node.info("replication")["connected_slaves"])
        self._attached[node_name] = attached
        if acked < min(attached, self.wait.replicas):
            raise ReplicasBehind(f"{acked} of {attached} Redis replicas acknowledged a flush "
                                 f"within {self.wait.timeout_ms} ms")
        REDIS_UNREPLICATED.inc()
        self._warn(node, attached)

    def _warn(self, node: redis.Redis, attached: int) -> None:
        """At most one warning per period: a primary short of replicas takes every flush."""
        now = self.clock()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_S:
            return
        self._warned_at = now
        where = node.connection_pool.connection_kwargs
        log.warning("Redis %s:%s took writes with %d replicas attached, %d asked: they are not "
                    "replicated until a replica is back", where.get("host"), where.get("port"),
                    attached, self.wait.replicas)


def queued_keys(pipe: Any) -> list[str]:
    """The first key of every command queued in a cluster pipeline. redis-py 6 and later keep
    the queue in the pipeline's execution strategy, earlier ones in `command_stack`."""
    strategy = getattr(pipe, "_execution_strategy", None)
    queue = strategy.command_queue if strategy is not None else pipe.command_stack
    return [key for command in queue if (key := first_key(command.args)) is not None]


def first_key(args: tuple[Any, ...]) -> str | None:
    """The first key of a command: EVAL and EVALSHA name theirs after the script and a count."""
    if str(args[0]).upper() in ("EVAL", "EVALSHA"):
        return _text(args[3]) if int(args[2]) else None
    return _text(args[1]) if len(args) > 1 else None


def hash_tag(key: str) -> str:
    """What Redis hashes for a key's slot: the text between its first `{` and the next `}`,
    unless empty; else the whole key."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1:end] if end > start + 1 else key


def fences_by_node(keys: Iterable[str], node_of: Callable[[str], str],
                   fence_key: Callable[[str], str]) -> dict[str, str]:
    """One fence key per node written to, named by the hash tag of a key written there so it
    lands in that key's slot. A key whose fence would land elsewhere (braces inside a bare
    key) is passed over: a fence sent to the wrong node is refused (MOVED) on every retry."""
    by_slot: dict[int, str] = {}
    for key in keys:
        by_slot.setdefault(key_slot(key.encode()), key)
    fences: dict[str, str] = {}
    for slot, key in by_slot.items():
        node = node_of(key)
        fence = fence_key(hash_tag(key))
        if node not in fences and key_slot(fence.encode()) == slot:
            fences[node] = fence
    return fences


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)
