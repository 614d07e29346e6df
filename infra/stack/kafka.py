"""Kafka: combined KRaft brokers and controllers, from the jars of infra/kafka/pom.xml.

One broker per address in `STORIES_KAFKA_BOOTSTRAP`: one for the single-node stack, three for
the local cluster. Broker n is node n; its controller listens at its port plus the offset
between `STORIES_KAFKA_CONTROLLER_PORT` and the first broker's port. Clients and the brokers'
own traffic authenticate as STORIES_KAFKA_SECURITY_PROTOCOL asks (`kafka_security`).
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from infra.stack.files import fetch_jars, render
from infra.stack.kafka_security import (
    check_credentials,
    record_credentials,
    scram_arguments,
    security_properties,
)
from infra.stack.processes import java, run_tool
from infra.stack.service import Service, count
from infra.stack.state import Dirs

__all__ = ["SERVICE", "Broker", "brokers", "services", "endpoint", "command", "probe",
           "cluster_id"]

log = logging.getLogger(__name__)

HEAP = ("-Xms128m", "-Xmx512m")
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Broker:
    """One node of the local Kafka: its id, where clients and the controllers reach it."""

    node_id: int
    host: str
    port: int
    controller_port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def brokers(settings: Settings) -> list[Broker]:
    """The brokers the bootstrap servers name, numbered from 1 in their order."""
    addresses = [entry.strip() for entry in settings.kafka_bootstrap.split(",") if entry.strip()]
    hosts_ports = [(host, int(port)) for host, _, port in (a.rpartition(":") for a in addresses)]
    controller_offset = settings.kafka_controller_port - hosts_ports[0][1]
    return [Broker(number, host, port, port + controller_offset)
            for number, (host, port) in enumerate(hosts_ports, start=1)]


def services(settings: Settings) -> list[Service]:
    """`kafka` for one broker; `kafka-1` … `kafka-n` for a cluster."""
    if len(brokers(settings)) == 1:
        return [SERVICE]
    return [_node_service(broker.node_id, f"kafka-{broker.node_id}") for broker in brokers(settings)]


def endpoint(settings: Settings, node_id: int = 1) -> tuple[str, int]:
    """Where broker `node_id` (the first by default) listens for clients."""
    broker = brokers(settings)[node_id - 1]
    return broker.host, broker.port


def command(settings: Settings, dirs: Dirs, console: Console, node_id: int = 1) -> list[str]:
    """The broker's command line, its jars fetched, its configuration rendered, its storage formatted."""
    lib = fetch_jars("kafka", dirs, console)
    nodes = brokers(settings)
    broker = nodes[node_id - 1]
    server_properties = render(
        "kafka", "server.properties", dirs.conf / "server.properties",
        node_id=broker.node_id, host=broker.host, broker_port=broker.port,
        controller_port=broker.controller_port, data_dir=dirs.data,
        voters=",".join(f"{node.node_id}@{node.host}:{node.controller_port}" for node in nodes),
        replication_factor=settings.kafka_replication_factor,
        min_insync_replicas=settings.kafka_min_insync_replicas,
        protocol=settings.kafka_security_protocol,
        security=security_properties(settings, broker.host),
    )  # fmt: skip
    server_properties.chmod(0o600)  # it holds the brokers' password
    server_properties.chmod(0o600)  # it holds the broker's password
    log4j = render(
        "kafka", "log4j.properties", dirs.conf / "log4j.properties",
        log_file=dirs.logs / "server.log",
    )  # fmt: skip
    jvm = [
        java("kafka"), *HEAP,
        # The flags of Kafka's own kafka-run-class.sh.
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true", f"-Dlog4j.configuration={log4j.as_uri()}",
        "-cp", str(lib / "*"),
    ]  # fmt: skip
    _format_storage(settings, jvm, server_properties, dirs)
    return [*jvm, "kafka.Kafka", str(server_properties)]


def cluster_id(settings: Settings) -> str:
    """The KRaft cluster id every broker's storage is formatted with: derived from the state
    folder, so the brokers of one stack agree on it without talking to each other."""
    name = uuid.uuid5(uuid.NAMESPACE_URL, f"stories-kafka:{settings.state_dir}")
    return base64.urlsafe_b64encode(name.bytes).decode().rstrip("=")


def _format_storage(settings: Settings, jvm: list[str], server_properties: Path, dirs: Dirs) -> None:
    """KRaft will not start on an unformatted log dir: format it once, with the stack's cluster
    id and the SCRAM credentials of the configured user. A storage formatted before holds
    whatever credentials it was given then: checked, since the broker could not authenticate."""
    if (dirs.data / "meta.properties").is_file():
        check_credentials(settings, dirs)
        return
    cluster = cluster_id(settings)
    format_args = ["format", "-t", cluster, "-c", str(server_properties), "--ignore-formatted",
                   *scram_arguments(settings)]
    run_tool("kafka", [*jvm, "kafka.tools.StorageTool", *format_args], dirs)
    record_credentials(settings, dirs)
    log.info("%s: storage formatted, cluster id %s", dirs.name, cluster)


def probe(settings: Settings, node_id: int = 1) -> str:
    """Ready once the broker serves metadata that lists it; reports how many topics it holds."""
    from confluent_kafka.admin import AdminClient  # imported here: keeps `import infra.stack` cheap

    from core.clients import kafka_config

    host, port = endpoint(settings, node_id)
    # log_level 0: a broker still starting is expected, not worth librdkafka's error lines.
    admin = AdminClient({**kafka_config(settings), "bootstrap.servers": f"{host}:{port}",
                         "log_level": 0})
    metadata = admin.list_topics(timeout=3)
    if node_id not in metadata.brokers:
        raise RuntimeError(f"metadata does not list broker {node_id} yet")
    total = len(brokers(settings))
    members = "" if total == 1 else f", {len(metadata.brokers)} of {total} brokers registered"
    return count(len(metadata.topics), "topic") + members


def _node_service(node_id: int, name: str) -> Service:
    return Service(name, partial(endpoint, node_id=node_id), partial(command, node_id=node_id),
                   partial(probe, node_id=node_id), "server.log", START_TIMEOUT_S)


SERVICE = _node_service(1, "kafka")
