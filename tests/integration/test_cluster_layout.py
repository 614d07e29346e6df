"""On the real broker and CQL server: partition counts come from the broker, keyspaces are
created from the replication settings, consistency comes from the settings."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace

import pytest
from cassandra import ConsistencyLevel
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from core.clients import cql_session, kafka_config
from core.settings import Settings, replication_map
from projections.migrate import CqlServer, cql_server, create_keyspace
from projections.replay import ReplayPlan, _consumer, _pass
from streams.admin import all_topics, ensure_topics, group_lag, partition_count
from streams.topics import TOPICS, topic_name
from tests.integration.kafka_helpers import end_offsets

pytestmark = pytest.mark.integration

HIGHLIGHTS = next(t for t in TOPICS if t.suffix == "highlights")
WIDER = HIGHLIGHTS.partitions + 2


@pytest.fixture
def wider_topic(local_stack: Settings):
    """A private prefix whose highlights topic already has more partitions than the catalogue's."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    name = topic_name(HIGHLIGHTS, prefix)
    admin = AdminClient(kafka_config(local_stack))
    admin.create_topics([NewTopic(name, WIDER, 1)])[name].result(30)
    yield prefix, name
    names = [n for n in admin.list_topics(timeout=30).topics if n.startswith(f"{prefix}.")]
    for outcome in admin.delete_topics(names, operation_timeout=30).values():
        outcome.result(30)


def test_init_names_a_topic_whose_partitions_differ_and_everything_reads_the_broker(
    local_stack: Settings, wider_topic, caplog
):
    prefix, name = wider_topic
    kafka = kafka_config(local_stack)
    with caplog.at_level(logging.WARNING, logger="streams.admin"):
        created = ensure_topics(kafka, prefix)
        again = ensure_topics(kafka, prefix)  # idempotent, and still reported
    assert name not in created and len(created) == len(all_topics()) - 1  # every other topic
    assert again == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all(name in w and f"has {WIDER} partitions" in w
               and f"says {HIGHLIGHTS.partitions}" in w for w in warnings)

    for topic in TOPICS:  # until every new partition answers through its leader
        end_offsets(kafka, topic_name(topic, prefix), WIDER if topic is HIGHLIGHTS
                    else topic.partitions)
    producer = Producer(dict(kafka))
    for partition in range(WIDER):  # one event on every partition, the extra ones included
        producer.produce(name, b"not an event", key=b"k", partition=partition)
    assert producer.flush(30) == 0

    runtime = SimpleNamespace(settings=local_stack.model_copy(update={"topic_prefix": prefix}))
    consumer = _consumer(runtime)  # type: ignore[arg-type]
    try:
        assert partition_count(consumer, name) == WIDER
        assert group_lag(kafka, f"{prefix}-lag", [HIGHLIGHTS], prefix) == WIDER
        applied: list[tuple[str, int]] = []
        projector = SimpleNamespace(
            apply=lambda suffix, events, partitions: applied.append((suffix, len(events))))
        plan = ReplayPlan()
        checkpoints = SimpleNamespace(save=lambda positions, force=False: None)
        assert _pass(runtime, consumer, projector, plan, None,  # type: ignore[arg-type]
                     checkpoints) == WIDER
    finally:
        consumer.close()
    assert {p for (topic, p) in plan.positions if topic == name} == set(range(WIDER))
    assert all(suffix == "highlights" for suffix, _ in applied)


def test_keyspaces_are_created_from_the_structured_settings(local_stack: Settings):
    session = cql_session(local_stack)
    datacenter = session.execute("SELECT data_center FROM system.local").one().data_center
    cluster_like = Settings(environment="test", cql_replication_strategy="NetworkTopologyStrategy",
                            cql_datacenter=datacenter, cql_replication_factor=1)
    simple, topology = (f"test_{uuid.uuid4().hex[:10]}" for _ in range(2))
    try:
        assert cql_server(session) == CqlServer(scylla=False, tablets=False)  # Cassandra
        create_keyspace(session, simple, replication_map("SimpleStrategy", 1))
        create_keyspace(session, simple, replication_map("SimpleStrategy", 1))  # there: fine
        create_keyspace(session, topology, cluster_like.cql_replication)
        replication = {
            row.keyspace_name: dict(row.replication) for row in session.execute(
                "SELECT keyspace_name, replication FROM system_schema.keyspaces")
            if row.keyspace_name in (simple, topology)
        }
    finally:
        for keyspace in (simple, topology):
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        session.cluster.shutdown()
    assert replication[simple]["class"].endswith("SimpleStrategy")
    assert replication[simple]["replication_factor"] == "1"
    assert replication[topology]["class"].endswith("NetworkTopologyStrategy")
    assert replication[topology][datacenter] == "1"


def test_a_session_in_the_named_datacenter_runs_compare_and_set_at_the_configured_levels(
    local_stack: Settings,
):
    probe = cql_session(local_stack)
    datacenter = probe.execute("SELECT data_center FROM system.local").one().data_center
    probe.cluster.shutdown()
    settings = local_stack.model_copy(update={"cql_datacenter": datacenter})
    session = cql_session(settings)
    keyspace = f"test_{uuid.uuid4().hex[:10]}"
    try:
        create_keyspace(session, keyspace, settings.cql_replication)
        session.execute(f"CREATE TABLE {keyspace}.cas (id text PRIMARY KEY, v int)")
        insert = f"INSERT INTO {keyspace}.cas (id, v) VALUES ('a', %s) IF NOT EXISTS"
        first = session.execute_async(insert, (1,))
        assert first.result().was_applied
        assert first.message.consistency_level == ConsistencyLevel.LOCAL_QUORUM
        assert first.message.serial_consistency_level == ConsistencyLevel.LOCAL_SERIAL
        assert not session.execute(insert, (2,)).was_applied
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
        session.cluster.shutdown()
