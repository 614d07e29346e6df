"""Clients for the services the project talks to, configured from settings."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import boto3
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from botocore.config import Config
from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from core.settings import Settings

__all__ = ["cql_cluster", "cql_profile", "cql_session", "redis_client", "redis_async_client",
           "redis_clustered", "redis_plain_url", "is_cluster", "s3_client", "ensure_bucket"]

CLUSTER_SCHEME = "redis+cluster"

# ScyllaDB speaks protocol v4; pinning it keeps the driver from negotiating past it.
CQL_PROTOCOL_VERSION = 4


def cql_profile(settings: Settings) -> ExecutionProfile:
    """The default execution profile: token-aware routing within the local datacenter, at the
    configured consistency; lightweight transactions run at the configured serial consistency."""
    # An empty local_dc lets the driver take the datacenter of the first contact point that
    # answers; contact points should then all be nodes of the local datacenter.
    routing = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.cql_datacenter))
    return ExecutionProfile(
        load_balancing_policy=routing,
        consistency_level=ConsistencyLevel.name_to_value[settings.cql_consistency],
        serial_consistency_level=ConsistencyLevel.name_to_value[settings.cql_serial_consistency],
        request_timeout=30,
    )


def cql_cluster(settings: Settings) -> Cluster:
    """A driver cluster object for the configured contact points."""
    profile = cql_profile(settings)
    return Cluster(
        settings.cql_contact_points,
        port=settings.cql_port,
        protocol_version=CQL_PROTOCOL_VERSION,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=10,
    )


def cql_session(settings: Settings, keyspace: str | None = None) -> Session:
    """A connected session, optionally bound to a keyspace."""
    return cql_cluster(settings).connect(keyspace)


def redis_clustered(settings: Settings) -> bool:
    """Whether Redis is a cluster: `STORIES_REDIS_CLUSTER=true` or a `redis+cluster://` URL."""
    return settings.redis_cluster or urlsplit(settings.redis_url).scheme == CLUSTER_SCHEME


def redis_plain_url(url: str) -> str:
    """The URL redis-py reads: `redis+cluster://` becomes `redis://`."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        return url
    return urlunsplit(("redis", parts.netloc, parts.path, parts.query, parts.fragment))


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A pooled Redis client (hiredis parser when installed); the cluster-aware client, which
    routes each command to the node of its key's slot, when Redis is a cluster.

    The cluster client answers the same commands (multi-key ones only within one slot), so
    callers type it as `redis.Redis`; code that must behave differently asks `is_cluster`.
    """
    if redis_clustered(settings):
        url = _no_db(redis_plain_url(settings.redis_url))
        return cast(redis.Redis, redis.cluster.RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(settings.redis_url, **options)


def redis_async_client(settings: Settings, **options: Any) -> redis.asyncio.Redis:
    """`redis_client` for asyncio: `redis.asyncio.Redis`, or its cluster-aware client."""
    if redis_clustered(settings):
        url = _no_db(redis_plain_url(settings.redis_url))
        return cast(redis.asyncio.Redis,
                    redis.asyncio.cluster.RedisCluster.from_url(url, **options))
    return redis.asyncio.Redis.from_url(settings.redis_url, **options)


def is_cluster(client: Any) -> bool:
    """Whether a client (sync or asyncio), its pipeline or its pub/sub talks to a Redis Cluster."""
    return isinstance(client, redis.cluster.RedisCluster | redis.asyncio.cluster.RedisCluster
                      | redis.cluster.ClusterPipeline | redis.asyncio.cluster.ClusterPipeline
                      | redis.cluster.ClusterPubSub | redis.asyncio.cluster.ClusterPubSub)


def _no_db(url: str) -> str:
    """A cluster has database 0 only: a `/0` path is dropped, any other refused by redis-py."""
    parts = urlsplit(url)
    path = "" if parts.path in ("", "/", "/0") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def s3_client(settings: Settings, endpoint: str | None = None) -> Any:
    """An S3 client signing v4 with path-style addressing (S3Proxy, MinIO and AWS alike)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def ensure_bucket(client: Any, bucket: str) -> bool:
    """Create the bucket if missing; True when it was created now."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return False
    client.create_bucket(Bucket=bucket)
    return True
