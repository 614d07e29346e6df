"""Cassandra: the CQL server standing in for ScyllaDB, from the jars of infra/cassandra/pom.xml."""

from __future__ import annotations

from rich.console import Console

from core.settings import Settings
from infra.stack.files import INFRA_DIR, fetch_jars, jvm_options, render
from infra.stack.processes import java
from infra.stack.service import Service, StackError
from infra.stack.state import Dirs

__all__ = ["SERVICE", "endpoint", "command", "probe"]

# Cassandra mlockall()s the heap committed at start-up when it runs as root: a small -Xms keeps
# an idle node from pinning the whole 1 GiB.
HEAP = ("-Xms256m", "-Xmx1g")


def endpoint(settings: Settings) -> tuple[str, int]:
    """The first contact point: where the local node serves CQL."""
    return settings.cql_contact_points[0], settings.cql_port


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """The node's command line, its jars fetched and its configuration rendered."""
    lib = fetch_jars("cassandra", dirs, console)
    host, port = endpoint(settings)
    config = render(
        "cassandra", "cassandra.yaml", dirs.conf / "cassandra.yaml",
        host=host, cql_port=port, storage_port=settings.cql_storage_port, data_dir=dirs.data,
    )  # fmt: skip
    logback = render("cassandra", "logback.xml", dirs.conf / "logback.xml", log_file=dirs.logs / "system.log")
    triggers = dirs.conf / "triggers"  # Cassandra warns every minute when it is missing
    triggers.mkdir(exist_ok=True)
    jamm = next(lib.glob("jamm-*.jar"), None)
    if jamm is None:
        raise StackError("cassandra", f"no jamm-*.jar in {lib}: delete that folder to refetch it")
    return [
        java("cassandra"), *HEAP,
        *jvm_options(INFRA_DIR / "cassandra" / "jvm-options.conf"),
        f"-javaagent:{jamm}",  # Cassandra measures its memtables with it
        f"-Dcassandra.config={config.as_uri()}",
        f"-Dcassandra.storagedir={dirs.data}", f"-Dcassandra.logdir={dirs.logs}",
        f"-Dcassandra.triggers_dir={triggers}",
        f"-Dlogback.configurationFile={logback.as_uri()}",
        "-cp", str(lib / "*"), "org.apache.cassandra.service.CassandraDaemon",
    ]  # fmt: skip


def probe(settings: Settings) -> str:
    """Ready once a CQL query answers (as the configured user, over TLS when configured);
    reports the server's release."""
    from cassandra.cluster import ExecutionProfile
    from cassandra.policies import RoundRobinPolicy

    from core.clients import cql_cluster

    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=5)
    cluster = cql_cluster(settings, profile, connect_timeout=3, control_connection_timeout=3)
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()
    return f"release {row.release_version}"


SERVICE = Service("cassandra", endpoint, command, probe, "system.log", 240.0)
