"""The local stack authenticates: Kafka serves SASL/SCRAM only and Redis (single node and
one-node cluster) only its ACL user, so a client without the configured credentials gets
nothing, while the project's clients, built from the settings, work."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from core.clients import kafka_config, redis_client
from core.settings import Settings
from infra.stack.redis import cluster_endpoint, cluster_url, endpoint

pytestmark = pytest.mark.skipif(
    Settings().kafka_security_protocol != "SASL_PLAINTEXT",
    reason="the local stack authenticates Kafka clients with SASL_PLAINTEXT (the default)",
)

QUICK = {"socket.timeout.ms": 3000, "log_level": 0}  # a refused client fails fast and quietly


def _topics(config: dict[str, Any], errors: list[KafkaError] | None = None) -> set[str]:
    """The topics the broker lists to this client; the client's errors go to `errors`."""
    admin = AdminClient({**config, **QUICK, "error_cb": (errors if errors is not None else []).append})
    try:
        return set(admin.list_topics(timeout=5).topics)
    except KafkaException:
        admin.poll(0.5)  # serves the error callbacks: why the broker did not answer
        raise


def _delivered(config: dict[str, Any], topic: str) -> bool:
    """Whether the broker acknowledged a message from this client."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**config, **QUICK, "message.timeout.ms": 5000})
    producer.produce(topic, b"auth check", on_delivery=lambda error, _: outcome.append(error))
    producer.flush(15)
    return len(outcome) == 1 and outcome[0] is None  # KafkaError cannot be compared with ==


def test_kafka_serves_the_configured_user(local_stack: Settings, topic_prefix: str) -> None:
    kafka = kafka_config(local_stack)
    assert f"{topic_prefix}.engagement" in _topics(kafka)
    assert _delivered(kafka, f"{topic_prefix}.engagement")


def test_kafka_refuses_a_client_without_sasl(local_stack: Settings, topic_prefix: str) -> None:
    plain = {"bootstrap.servers": local_stack.kafka_bootstrap, "security.protocol": "PLAINTEXT"}
    with pytest.raises(KafkaException):
        _topics(plain)
    assert not _delivered(plain, f"{topic_prefix}.engagement")


def test_kafka_refuses_a_wrong_password(local_stack: Settings, topic_prefix: str) -> None:
    wrong = kafka_config(local_stack.model_copy(update={"kafka_password": SecretStr("guess")}))
    errors: list[KafkaError] = []
    with pytest.raises(KafkaException):
        _topics(wrong, errors)
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors
    assert not _delivered(wrong, f"{topic_prefix}.engagement")


def _stack_redis(local_stack: Settings) -> Settings:
    return local_stack


def _cluster_redis(local_stack: Settings) -> Settings:
    return local_stack.model_copy(update={"redis_url": cluster_url(local_stack)})


REDIS_SERVERS = pytest.mark.parametrize(("where", "address"), [
    (_stack_redis, endpoint), (_cluster_redis, cluster_endpoint)], ids=["redis", "redis-cluster"])


@REDIS_SERVERS
def test_redis_serves_the_configured_user(local_stack: Settings, where, address) -> None:
    client = redis_client(where(local_stack), socket_timeout=5)
    key = f"test:auth:{uuid.uuid4().hex}"
    try:
        client.set(key, "mine", px=10_000)
        assert client.get(key) == b"mine"
        assert client.acl_whoami() == local_stack.redis_username
    finally:
        client.delete(key)
        client.close()


@REDIS_SERVERS
def test_redis_refuses_a_client_without_credentials(local_stack: Settings, where, address) -> None:
    host, port = address(local_stack)
    anonymous = redis.Redis(host=host, port=port, socket_timeout=5)
    try:
        with pytest.raises(redis.AuthenticationError, match="(?i)noauth|authenticat"):
            anonymous.ping()
    finally:
        anonymous.close()


@REDIS_SERVERS
def test_redis_refuses_a_wrong_password(local_stack: Settings, where, address) -> None:
    host, port = address(local_stack)
    guessing = redis.Redis(host=host, port=port, username=local_stack.redis_username,
                           password="guess", socket_timeout=5)
    try:
        with pytest.raises(redis.AuthenticationError, match="WRONGPASS|invalid username-password"):
            guessing.ping()
    finally:
        guessing.close()


def test_the_default_user_is_off(local_stack: Settings) -> None:
    """Even with Redis's own `default` user named, nothing gets in without the ACL user."""
    host, port = endpoint(local_stack)
    default = redis.Redis(host=host, port=port, username="default",
                          password=local_stack.redis_password.get_secret_value(), socket_timeout=5)
    try:
        with pytest.raises(redis.AuthenticationError):
            default.ping()
    finally:
        default.close()
