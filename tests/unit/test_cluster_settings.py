"""Replication, consistency and routing come from settings; single-node defaults stay as they were."""

from __future__ import annotations

import pytest
from cassandra import ConsistencyLevel
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from confluent_kafka import KafkaError, KafkaException
from pydantic import ValidationError

from core.clients import cql_profile
from core.settings import Settings, replication_map
from projections.migrate import CqlServer, create_keyspace_cql, server_of
from streams.admin import (
    PartitionMismatch,
    _already_exists,
    all_topics,
    new_topics,
    partition_mismatches,
)
from streams.topics import TOPICS, topic_name

SINGLE_NODE_MAP = "{'class': 'SimpleStrategy', 'replication_factor': 1}"


@pytest.fixture(autouse=True)
def _no_cluster_environment(monkeypatch):
    for name in ("KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS", "CQL_REPLICATION",
                 "CQL_REPLICATION_STRATEGY", "CQL_REPLICATION_FACTOR", "CQL_DATACENTER",
                 "CQL_CONSISTENCY", "CQL_SERIAL_CONSISTENCY"):
        monkeypatch.delenv(f"STORIES_{name}", raising=False)


def test_defaults_are_the_single_node_ones():
    s = Settings(environment="test")
    assert (s.kafka_replication_factor, s.kafka_min_insync_replicas) == (1, 1)
    assert s.cql_replication == SINGLE_NODE_MAP
    assert (s.cql_consistency, s.cql_serial_consistency) == ("LOCAL_QUORUM", "LOCAL_SERIAL")
    assert s.cql_datacenter == ""


def test_structured_settings_build_the_replication_map():
    s = Settings(environment="test", cql_replication_strategy="NetworkTopologyStrategy",
                 cql_datacenter="eu-west", cql_replication_factor=3)
    assert s.cql_replication == "{'class': 'NetworkTopologyStrategy', 'eu-west': 3}"
    simple = Settings(environment="test", cql_replication_factor=2)
    assert simple.cql_replication == "{'class': 'SimpleStrategy', 'replication_factor': 2}"


def test_the_raw_map_wins_when_set(monkeypatch):
    raw = "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}"
    monkeypatch.setenv("STORIES_CQL_REPLICATION", raw)
    monkeypatch.setenv("STORIES_CQL_REPLICATION_FACTOR", "5")
    assert Settings(environment="test").cql_replication == raw


def test_network_topology_needs_a_datacenter():
    with pytest.raises(ValidationError, match="STORIES_CQL_DATACENTER"):
        Settings(environment="test", cql_replication_strategy="NetworkTopologyStrategy")
    with pytest.raises(ValueError):
        replication_map("NetworkTopologyStrategy", 3)


def test_a_datacenter_name_cannot_smuggle_cql():
    with pytest.raises(ValidationError, match="datacenter"):
        Settings(environment="test", cql_datacenter="dc1': 3} AND durable_writes = false --")


def test_unknown_consistency_levels_are_refused():
    with pytest.raises(ValidationError):
        Settings(environment="test", cql_consistency="MOSTLY")
    with pytest.raises(ValidationError):
        Settings(environment="test", cql_serial_consistency="LOCAL_QUORUM")


def test_min_insync_cannot_exceed_the_replication_factor():
    with pytest.raises(ValidationError, match="MIN_INSYNC"):
        Settings(environment="test", kafka_replication_factor=1, kafka_min_insync_replicas=2)
    s = Settings(environment="test", kafka_replication_factor=3, kafka_min_insync_replicas=2)
    assert (s.kafka_replication_factor, s.kafka_min_insync_replicas) == (3, 2)


def test_the_profile_routes_token_aware_in_the_local_dc_at_the_configured_consistency():
    profile = cql_profile(Settings(environment="test", cql_datacenter="dc1"))
    policy = profile.load_balancing_policy
    assert isinstance(policy, TokenAwarePolicy)
    assert isinstance(policy._child_policy, DCAwareRoundRobinPolicy)
    assert policy._child_policy.local_dc == "dc1"
    assert profile.consistency_level == ConsistencyLevel.LOCAL_QUORUM
    assert profile.serial_consistency_level == ConsistencyLevel.LOCAL_SERIAL
    other = cql_profile(Settings(environment="test", cql_consistency="QUORUM",
                                 cql_serial_consistency="SERIAL"))
    assert other.consistency_level == ConsistencyLevel.QUORUM
    assert other.serial_consistency_level == ConsistencyLevel.SERIAL
    assert not other.load_balancing_policy._child_policy.local_dc  # left to the driver


def test_topics_are_created_with_the_deployment_replication():
    requests = new_topics(all_topics(), "p", replication_factor=3, min_insync_replicas=2)
    assert [r.topic for r in requests] == [topic_name(t, "p") for t in all_topics()]
    for request, topic in zip(requests, all_topics(), strict=True):
        assert request.num_partitions == topic.partitions
        assert request.replication_factor == 3
        assert request.config["min.insync.replicas"] == "2"
    assert TOPICS[0].config()["min.insync.replicas"] == "1"


def test_partition_counts_that_differ_from_the_catalogue_are_named():
    lifecycle, engagement = TOPICS[0], TOPICS[1]
    actual = {
        topic_name(lifecycle, "p"): lifecycle.partitions,
        topic_name(engagement, "p"): engagement.partitions + 4,
        "p.unrelated": 1,
    }
    found = partition_mismatches(all_topics(), "p", actual)
    assert found == [PartitionMismatch("p.engagement", engagement.partitions,
                                       engagement.partitions + 4)]
    message = str(found[0])
    assert "p.engagement" in message and "16" in message and "12" in message
    assert partition_mismatches(all_topics(), "other", actual) == []


def test_an_existing_topic_is_not_an_error():
    assert _already_exists(KafkaException(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS)))
    assert not _already_exists(KafkaException(KafkaError(KafkaError.POLICY_VIOLATION)))


def test_keyspaces_on_cassandra_get_no_tablets_option():
    cql = create_keyspace_cql("ks", SINGLE_NODE_MAP, server_of(set()))
    assert cql == f"CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {SINGLE_NODE_MAP}"


def test_keyspaces_on_scylla_with_tablets_keep_vnodes():
    server = server_of({"keyspace_name", "storage_type", "storage_options", "initial_tablets"})
    assert server == CqlServer(scylla=True, tablets=True)
    cql = create_keyspace_cql("ks", SINGLE_NODE_MAP, server)
    assert cql == (f"CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {SINGLE_NODE_MAP}"
                   " AND tablets = {'enabled': false}")


def test_keyspaces_on_scylla_without_tablets_get_no_option():
    server = server_of({"keyspace_name", "storage_type", "storage_options"})
    assert server == CqlServer(scylla=True, tablets=False)
    assert "tablets" not in create_keyspace_cql("ks", SINGLE_NODE_MAP, server)
