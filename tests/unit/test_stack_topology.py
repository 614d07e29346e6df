"""The stack is what the settings describe: one node of each engine, or the local cluster."""

from __future__ import annotations

from core.settings import Settings, cluster_settings
from infra.stack.cassandra import initial_token
from infra.stack.control import SERVICE_NAMES, services_of
from infra.stack.kafka import brokers, cluster_id
from infra.stack.redis_cluster import node_addresses


def test_default_settings_describe_the_single_node_stack() -> None:
    assert tuple(service.name for service in services_of(Settings())) == SERVICE_NAMES


def test_the_cluster_settings_describe_three_brokers_three_cql_nodes_and_six_redis_nodes() -> None:
    services = {service.name: service for service in services_of(cluster_settings())}
    assert sorted(services) == sorted([
        "cassandra-1", "cassandra-2", "cassandra-3", "cassandra-auth",
        "kafka-1", "kafka-2", "kafka-3", "s3proxy",
        *(f"redis-{n}" for n in range(1, 7)), "redis-cluster"])
    # Cassandra nodes join one at a time; the Redis cluster forms once its six nodes answer.
    assert services["cassandra-1"].after == ()
    assert services["cassandra-2"].after == ("cassandra-1",)
    assert services["cassandra-3"].after == ("cassandra-2",)
    assert set(services["redis-cluster"].after) == {f"redis-{n}" for n in range(1, 7)}
    assert services["cassandra-auth"].after == ("cassandra-3",)  # the user, once all have joined
    assert services["redis-cluster"].command is None  # a step, no process of its own
    assert services["cassandra-auth"].command is None


def test_each_node_has_its_own_address() -> None:
    settings = cluster_settings()
    services = services_of(settings)
    addresses = [service.endpoint(settings) for service in services
                 if service.command is not None]
    assert len(addresses) == len(set(addresses))
    assert node_addresses(settings) == [f"127.0.0.1:{port}" for port in range(7001, 7007)]


def test_brokers_are_numbered_in_bootstrap_order_with_their_controller_ports() -> None:
    settings = Settings(kafka_bootstrap="h1:9192, h2:9292,h3:9392", kafka_controller_port=9193)
    assert [(b.node_id, b.address, b.controller_port) for b in brokers(settings)] == [
        (1, "h1:9192", 9193), (2, "h2:9292", 9293), (3, "h3:9392", 9393)]


def test_the_brokers_of_one_stack_share_a_kafka_cluster_id_and_other_stacks_do_not() -> None:
    one, other = cluster_settings(), Settings()
    assert cluster_id(one) == cluster_id(one.model_copy())
    assert cluster_id(one) != cluster_id(other)
    assert len(cluster_id(one)) == 22  # Kafka's base64 form of a UUID


def test_the_token_ring_is_split_evenly() -> None:
    tokens = [initial_token(node, 3) for node in (1, 2, 3)]
    assert tokens[0] == -(2**63)
    assert tokens[1] - tokens[0] == tokens[2] - tokens[1] == 2**64 // 3
    assert tokens[2] < 2**63
