"""Clients for the services the project talks to, configured from settings."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

import boto3
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from botocore.config import Config
from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from core.settings import Settings

__all__ = ["KafkaConfig", "kafka_config", "kafka_ssl_context", "cql_cluster", "cql_profile",
           "cql_security", "cql_session", "redis_client", "redis_async_client", "redis_clustered",
           "redis_plain_url", "redis_options", "redis_credentials", "is_cluster", "s3_client",
           "ensure_bucket", "ca_file"]

# The cluster schemes name a seed node; redis-py reads them without the `+cluster`.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
TLS_SCHEMES = frozenset({"rediss", "rediss+cluster"})

# ScyllaDB speaks protocol v4; pinning it keeps the driver from negotiating past it.
CQL_PROTOCOL_VERSION = 4

KafkaConfig = Mapping[str, Any]
"""A confluent-kafka client's connection settings (`kafka_config`), which its own options extend."""


def ca_file(path: str, variable: str) -> str:
    """A configured CA file, refused by the name of its setting when it is no file."""
    if not Path(path).is_file():
        raise ValueError(f"{variable}={path!r} names no file (PEM CA certificates)")
    return path


def kafka_config(settings: Settings) -> dict[str, Any]:
    """How a confluent-kafka client reaches and authenticates to the brokers: the base of every
    producer, consumer and admin client's configuration."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": protocol,
    }
    if protocol.startswith("SASL_"):
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_username
        config["sasl.password"] = settings.kafka_password.get_secret_value()
    if protocol.endswith("SSL") and settings.kafka_ssl_ca_file:
        config["ssl.ca.location"] = ca_file(settings.kafka_ssl_ca_file, "STORIES_KAFKA_SSL_CA_FILE")
    return config


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of an asyncio Kafka client (faust): None unless the protocol is *SSL."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return _tls_context(settings.kafka_ssl_ca_file, "STORIES_KAFKA_SSL_CA_FILE")


def _tls_context(path: str, variable: str) -> ssl.SSLContext:
    """Verifies the server and its name, against the CA file or the system's CAs."""
    return ssl.create_default_context(cafile=ca_file(path, variable) if path else None)


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


def cql_cluster(settings: Settings, profile: ExecutionProfile | None = None,
                **options: Any) -> Cluster:
    """A driver cluster object for the configured contact points, authenticated and over TLS
    as configured; `profile` replaces the default execution profile."""
    return Cluster(
        settings.cql_contact_points,
        port=settings.cql_port,
        protocol_version=CQL_PROTOCOL_VERSION,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile or cql_profile(settings)},
        compression=False if settings.cql_compression == "none" else settings.cql_compression,
        **{"connect_timeout": 10, **cql_security(settings), **options},
    )


def cql_security(settings: Settings) -> dict[str, Any]:
    """The driver's auth_provider (when a user is set) and ssl_context (when a CA file is)."""
    security: dict[str, Any] = {}
    if settings.cql_username:
        security["auth_provider"] = PlainTextAuthProvider(
            settings.cql_username, settings.cql_password.get_secret_value())
    if settings.cql_ssl_ca_file:
        # The context checks the node's name: the driver then verifies each node's address.
        security["ssl_context"] = _tls_context(settings.cql_ssl_ca_file, "STORIES_CQL_SSL_CA_FILE")
    return security


def cql_session(settings: Settings, keyspace: str | None = None) -> Session:
    """A connected session, optionally bound to a keyspace."""
    return cql_cluster(settings).connect(keyspace)


def redis_clustered(settings: Settings) -> bool:
    """Whether Redis is a cluster: `STORIES_REDIS_CLUSTER=true` or a `redis+cluster://`
    (`rediss+cluster://`) URL."""
    return settings.redis_cluster or urlsplit(settings.redis_url).scheme in CLUSTER_SCHEMES


def redis_plain_url(url: str) -> str:
    """The URL redis-py reads: `redis+cluster://` becomes `redis://`, `rediss+cluster://`
    becomes `rediss://`."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        return url
    scheme = CLUSTER_SCHEMES[parts.scheme]
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


def redis_credentials(settings: Settings) -> tuple[str, str] | None:
    """The ACL user and password clients send: the URL's when it carries any, else the
    settings'; None when there is no password (no AUTH). The user `default` is Redis's own,
    the one a password alone authenticates."""
    url = urlsplit(settings.redis_url)
    if url.username is not None or url.password is not None:
        password = unquote(url.password or "")
        return (unquote(url.username or "") or "default", password) if password else None
    password = settings.redis_password.get_secret_value()
    return (settings.redis_username or "default", password) if password else None


def redis_options(settings: Settings) -> dict[str, Any]:
    """The ACL user and password (unless the URL carries credentials, which redis-py reads
    itself) and, for a TLS URL, the CA file: what every Redis client is given besides the URL."""
    url = urlsplit(settings.redis_url)
    options: dict[str, Any] = {}
    credentials = redis_credentials(settings)
    if credentials is not None and url.username is None and url.password is None:
        options["username"], options["password"] = credentials
    if url.scheme in TLS_SCHEMES and settings.redis_ssl_ca_file:
        options["ssl_ca_certs"] = ca_file(settings.redis_ssl_ca_file, "STORIES_REDIS_SSL_CA_FILE")
    return options


def redis_client(settings: Settings, **options: Any) -> redis.Redis:
    """A pooled Redis client (hiredis parser when installed); the cluster-aware client, which
    routes each command to the node of its key's slot, when Redis is a cluster.

    The cluster client answers the same commands (multi-key ones only within one slot), so
    callers type it as `redis.Redis`; code that must behave differently asks `is_cluster`.
    """
    options = {**redis_options(settings), **options}
    if redis_clustered(settings):
        url = _no_db(redis_plain_url(settings.redis_url))
        return cast(redis.Redis, redis.cluster.RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(settings.redis_url, **options)


def redis_async_client(settings: Settings, **options: Any) -> redis.asyncio.Redis:
    """`redis_client` for asyncio: `redis.asyncio.Redis`, or its cluster-aware client."""
    options = {**redis_options(settings), **options}
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
    """An S3 client signing v4 with path-style addressing (S3Proxy, MinIO and AWS alike); the
    session token of temporary credentials when one is set."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        aws_session_token=settings.s3_session_token.get_secret_value() or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def ensure_bucket(client: Any, bucket: str) -> bool:
    """Create the bucket if missing; True when it was created now."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return False
    client.create_bucket(Bucket=bucket)
    return True
