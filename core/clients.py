"""Clients for the services the project talks to, configured from settings."""

from __future__ import annotations

from typing import Any

import boto3
import redis
from botocore.config import Config
from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from core.settings import Settings

__all__ = ["cql_cluster", "cql_profile", "cql_session", "redis_client", "s3_client", "ensure_bucket"]

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


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A pooled Redis client (hiredis parser when installed)."""
    return redis.Redis.from_url(settings.redis_url, **options)


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
