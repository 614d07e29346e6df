"""Fan-out: the Redis commands and CQL statements one post causes, by the author's audience size.

The projector runs here against a scratch version through counting clients: every Redis
command (pipelined or not, scripts included) and every CQL request is counted by name, so the
figures are exact and unaffected by anything else using the servers.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

import redis

import schemas
from projections.projector import ProjectionPolicy, Projector
from projections.runtime import Runtime
from projections.stores.cql_batches import BatchShape
from projections.stores.cql_store import CqlReadModels
from projections.stores.keys import Kind
from projections.stores.redis_store import RedisReadModels

__all__ = ["measure_fanout", "CountingRedis", "CountingSession"]

READS = frozenset({"GET", "MGET", "HGET", "HMGET", "HVALS", "HGETALL", "SMEMBERS", "SCARD",
                   "SISMEMBER", "SMISMEMBER", "SINTER", "ZRANGE", "ZREVRANGE", "EXISTS"})


class _CountingPipeline(redis.client.Pipeline):
    """A pipeline that tallies its commands when it runs."""

    owner: CountingRedis

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        if self.command_stack:
            self.owner.round_trips += 1
        for args, _ in self.command_stack:
            self.owner.tally[str(args[0]).upper()] += 1
        return super().execute(raise_on_error)


class CountingRedis(redis.Redis):
    """A Redis client whose commands, pipelined or direct, are tallied by name."""

    def __init__(self, pool: redis.ConnectionPool):
        super().__init__(connection_pool=pool)
        self.tally: Counter = Counter()
        self.round_trips = 0

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> redis.client.Pipeline:
        pipe = _CountingPipeline(self.connection_pool, self.response_callbacks, transaction,
                                 shard_hint)
        pipe.owner = self
        return pipe

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.round_trips += 1
        self.tally[str(args[0]).upper()] += 1
        return super().execute_command(*args, **options)


class CountingSession:
    """Forwards to a CQL session, counting requests (a batch counts once, with its rows)."""

    def __init__(self, session: Any):
        self._session = session
        self.tally: Counter = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def _note(self, statement: Any) -> None:
        rows = getattr(statement, "_statements_and_parameters", None)
        self.tally["requests"] += 1
        self.tally["rows"] += len(rows) if rows is not None else 1

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(statement)
        return self._session.execute(statement, *args, **kwargs)

    def execute_async(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        self._note(statement)
        return self._session.execute_async(statement, *args, **kwargs)


def _follow_all(runtime: Runtime, author: str, followers: Iterable[str]) -> None:
    """The graph a stream of follows leaves behind, written in bulk (no tray backfill)."""
    models, cql = runtime.redis_models(), runtime.cql_models()
    rb, cb = models.batch(), cql.batch()
    for count, follower in enumerate(followers, start=1):
        rb.follow(follower, author)
        cb.follow(follower, author, 1)
        if count % 2000 == 0:
            rb.flush()
            cb.flush()
    rb.flush()
    cb.flush()


def _post_counted(runtime: Runtime, threshold: int, author: str) -> dict[str, Any]:
    """Fold one text post through counting clients; what it cost in commands and requests."""
    client = CountingRedis(runtime.redis.connection_pool)
    session = CountingSession(runtime.session)
    live = runtime.version
    secret = runtime.settings.pseudonym_secret.get_secret_value().encode()
    shape = BatchShape.from_settings(runtime.settings)
    projector = Projector(RedisReadModels(client, live.redis_prefixes(), secret),
                          CqlReadModels(session, live.keyspaces(), shape),
                          ProjectionPolicy(fanout_threshold=threshold))
    client.tally.clear()
    client.round_trips = 0
    session.tally.clear()
    projector.apply_lifecycle([("StoryPosted", schemas.new_event(
        "StoryPosted", author, kind="TEXT", text="fan-out probe", story_id=str(uuid.uuid4())))])
    tally = client.tally
    reads = sum(n for name, n in tally.items() if name in READS)
    return {"redis_commands": sum(tally.values()), "redis_writes": sum(tally.values()) - reads,
            "redis_reads": reads, "redis_round_trips": client.round_trips,
            "redis_by_command": dict(sorted(tally.items())),
            "cql_requests": session.tally["requests"], "cql_rows": session.tally["rows"]}


def _trays_holding(runtime: Runtime, author: str, followers: list[str]) -> int:
    """How many of the followers' trays hold an entry for the author (tray writes are scripts,
    so the command tally alone does not show them)."""
    models = runtime.redis_models()
    pipe = runtime.redis.pipeline(transaction=False)
    for follower in followers:
        pipe.hexists(models.k(Kind.TRAY_ENTRIES, follower), author)
    return sum(map(bool, pipe.execute())) if followers else 0


def measure_fanout(scratch: Runtime, ordinary_followers: int, big_followers: int,
                   threshold: int) -> dict[str, Any]:
    """One post by an ordinary user, a big one below the threshold and a celebrity above it."""
    authors = {"ordinary": ordinary_followers, "big_pushed": big_followers,
               "celebrity_pulled": threshold + 1}
    results = {}
    for label, count in authors.items():
        author = f"fanout-{label}"
        followers = [f"{label}-follower-{i}" for i in range(count)]
        _follow_all(scratch, author, followers)
        results[label] = {"followers": count, **_post_counted(scratch, threshold, author),
                          "trays_with_entry": _trays_holding(scratch, author, followers)}
    return {"fanout_threshold": threshold, "posts": results}
