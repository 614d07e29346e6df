"""Kafka: one combined KRaft broker and controller, from the jars of infra/kafka/pom.xml."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from infra.stack.files import fetch_jars, render
from infra.stack.processes import java, run_tool
from infra.stack.service import Service, count
from infra.stack.state import Dirs

__all__ = ["SERVICE", "endpoint", "command", "probe"]

log = logging.getLogger(__name__)

HEAP = ("-Xms128m", "-Xmx512m")


def endpoint(settings: Settings) -> tuple[str, int]:
    """The first bootstrap server: where the local broker listens."""
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    return host, int(port)


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """The broker's command line, its jars fetched, its configuration rendered, its storage formatted."""
    lib = fetch_jars("kafka", dirs, console)
    host, port = endpoint(settings)
    server_properties = render(
        "kafka", "server.properties", dirs.conf / "server.properties",
        host=host, broker_port=port, controller_port=settings.kafka_controller_port,
        data_dir=dirs.data,
    )  # fmt: skip
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
    _format_storage(jvm, server_properties, dirs)
    return [*jvm, "kafka.Kafka", str(server_properties)]


def _format_storage(jvm: list[str], server_properties: Path, dirs: Dirs) -> None:
    """KRaft will not start on an unformatted log dir: format it once, with a new cluster id."""
    if (dirs.data / "meta.properties").is_file():
        return
    storage_tool = [*jvm, "kafka.tools.StorageTool"]
    cluster_id = run_tool("kafka", [*storage_tool, "random-uuid"], dirs).split()[-1]
    format_args = ["format", "-t", cluster_id, "-c", str(server_properties), "--ignore-formatted"]
    run_tool("kafka", [*storage_tool, *format_args], dirs)
    log.info("kafka: storage formatted, cluster id %s", cluster_id)


def probe(settings: Settings) -> str:
    """Ready once the broker lists itself in its metadata; reports how many topics it holds."""
    from confluent_kafka.admin import AdminClient  # imported here: keeps `import infra.stack` cheap

    # log_level 0: a broker still starting is expected, not worth librdkafka's error lines.
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=3)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no broker")
    return count(len(metadata.topics), "topic")


SERVICE = Service("kafka", endpoint, command, probe, "server.log", 120.0)
