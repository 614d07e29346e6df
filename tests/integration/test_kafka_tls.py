"""A broker of the test's own serving SASL_SSL with the throwaway CA's certificate, as the local
cluster runs its brokers: the project's confluent-kafka clients and the worker's faust
credentials (what faust hands to aiokafka) both reach it; a client that does not trust the CA
is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiokafka
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from rich.console import Console

import schemas
from core.clients import kafka_config
from core.settings import Settings
from harness.processes import free_port
from infra.stack import down, up
from infra.stack.kafka import services as kafka_services
from infra.stack.state import service_dirs
from streams.admin import ensure_topics
from streams.broker import broker_credentials
from streams.producer import EventProducer


@pytest.fixture(scope="module")
def tls_broker(local_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    state = tmp_path_factory.mktemp("kafka-tls")
    settings = local_stack.model_copy(update={
        "state_dir": state, "kafka_security_protocol": "SASL_SSL",
        "kafka_bootstrap": f"127.0.0.1:{free_port()}", "kafka_controller_port": free_port(),
        "kafka_ssl_ca_file": str(state / "tls" / "ca.pem"),
        # One broker of its own, whatever the stack is (the local cluster's topics have 3).
        "kafka_replication_factor": 1, "kafka_min_insync_replicas": 1,
    })
    # The jars the stack's own (first) broker runs from: nothing to fetch.
    stack_broker = kafka_services(local_stack)[0].name
    service_dirs(settings, "kafka").root.mkdir(parents=True)
    service_dirs(settings, "kafka").lib.symlink_to(service_dirs(local_stack, stack_broker).lib)
    console = Console(quiet=True)
    up(settings, console, ["kafka"])
    try:
        yield settings
    finally:
        down(settings, console, ["kafka"])


def test_the_projects_clients_produce_over_sasl_ssl(tls_broker: Settings) -> None:
    kafka = kafka_config(tls_broker)
    assert kafka["security.protocol"] == "SASL_SSL" and Path(kafka["ssl.ca.location"]).is_file()
    ensure_topics(kafka, "tls", replication_factor=1, min_insync_replicas=1)
    record = schemas.new_event("UserFollowed", actor_id="fan", followee_id="star")
    with EventProducer(kafka, "tls") as producer:
        delivery = producer.emit("UserFollowed", record, timeout=30)
    assert delivery.topic == "tls.social-graph"


def test_the_workers_credentials_consume_over_sasl_ssl(tls_broker: Settings) -> None:
    record = schemas.new_event("UserFollowed", actor_id="reader", followee_id="writer")
    ensure_topics(kafka_config(tls_broker), "tls", replication_factor=1, min_insync_replicas=1)
    with EventProducer(kafka_config(tls_broker), "tls") as producer:
        producer.emit("UserFollowed", record, timeout=30)

    async def consume() -> list[bytes]:
        auth = credentials_to_aiokafka_auth(broker_credentials(tls_broker))
        consumer = aiokafka.AIOKafkaConsumer(
            "tls.social-graph", bootstrap_servers=tls_broker.kafka_bootstrap,
            group_id="tls-check", auto_offset_reset="earliest", **auth)
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=20_000, max_records=1000)
            return [message.value for messages in batches.values() for message in messages]
        finally:
            await consumer.stop()

    values = asyncio.run(consume())
    assert any(schemas.decode(value) == ("UserFollowed", record) for value in values)


def test_a_client_without_the_ca_is_refused(tls_broker: Settings) -> None:
    untrusting = kafka_config(tls_broker.model_copy(update={"kafka_ssl_ca_file": ""}))
    admin = AdminClient({**untrusting, "log_level": 0, "socket.timeout.ms": 3000})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
