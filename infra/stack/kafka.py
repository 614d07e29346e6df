"""Kafka: one combined KRaft broker and controller, from the jars of infra/kafka/pom.xml.

Its client listener speaks STORIES_KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT by default, with
the configured user's SCRAM credentials written into the storage when it is formatted, and the
broker authenticating to itself as that user; SSL and SASL_SSL serve the throwaway CA's
certificate (infra/stack/tls.py).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from rich.console import Console

from core.settings import Settings
from infra.stack.files import fetch_jars, render
from infra.stack.processes import java, run_tool
from infra.stack.service import Service, StackError, count
from infra.stack.state import Dirs
from infra.stack.tls import ensure_tls, kafka_ssl_properties

__all__ = ["SERVICE", "endpoint", "command", "probe", "sasl_properties", "scram_arguments",
           "LISTENER"]

log = logging.getLogger(__name__)

HEAP = ("-Xms128m", "-Xmx512m")
LISTENER = "CLIENT"  # the listener of clients and of the broker's own traffic
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
INTER_BROKER_MECHANISM = "SCRAM-SHA-512"
# Written beside meta.properties when the storage is formatted: whose SCRAM credentials it holds.
CREDENTIALS_MARKER = "stories-scram-user"


def endpoint(settings: Settings) -> tuple[str, int]:
    """The first bootstrap server: where the local broker listens."""
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    return host, int(port)


def command(settings: Settings, dirs: Dirs, console: Console) -> list[str]:
    """The broker's command line, its jars fetched, its configuration rendered, its storage formatted."""
    lib = fetch_jars("kafka", dirs, console)
    host, port = endpoint(settings)
    security = "\n".join(filter(None, [sasl_properties(settings), _tls_properties(settings, host)]))
    server_properties = render(
        "kafka", "server.properties", dirs.conf / "server.properties",
        host=host, broker_port=port, controller_port=settings.kafka_controller_port,
        data_dir=dirs.data, protocol=settings.kafka_security_protocol, security=security,
    )  # fmt: skip
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


def sasl_properties(settings: Settings, listener: str = LISTENER) -> str:
    """server.properties lines of a SASL listener: the configured mechanism and SCRAM-SHA-512,
    which the broker's own traffic uses, authenticating as the configured user. Empty unless
    the protocol is SASL_*."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return ""
    user, password = _jaas_safe(settings.kafka_username), _jaas_safe(_password(settings))
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required"
    prefix = f"listener.name.{listener.lower()}"
    mechanisms = sorted({INTER_BROKER_MECHANISM, settings.kafka_sasl_mechanism})
    lines = [
        f"sasl.enabled.mechanisms={','.join(mechanisms)}",
        f"sasl.mechanism.inter.broker.protocol={INTER_BROKER_MECHANISM}",
        f'{prefix}.scram-sha-512.sasl.jaas.config={scram} username="{user}" password="{password}";',
    ]  # fmt: skip
    if settings.kafka_sasl_mechanism == "SCRAM-SHA-256":
        lines.append(f"{prefix}.scram-sha-256.sasl.jaas.config={scram};")
    if settings.kafka_sasl_mechanism == "PLAIN":
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule required"
        lines.append(f'{prefix}.plain.sasl.jaas.config={plain} user_{user}="{password}";')
    return "\n".join(lines)


def _tls_properties(settings: Settings, host: str) -> str:
    """With SSL or SASL_SSL, the listener serves the throwaway CA's certificate for `host`
    (<state_dir>/tls/); clients must trust that CA. Empty otherwise."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return ""
    files = ensure_tls(Path(settings.state_dir) / "tls", [host])
    if Path(settings.kafka_ssl_ca_file or "/") != files.ca_cert:
        raise StackError("kafka", f"the stack's brokers serve TLS with the CA of {files.ca_cert}: "
                         f"set STORIES_KAFKA_SSL_CA_FILE={files.ca_cert}")
    return kafka_ssl_properties(files, LISTENER)


def scram_arguments(settings: Settings) -> list[str]:
    """StorageTool `format` arguments that store the configured user's SCRAM credentials (both
    mechanisms); none unless the protocol is SASL_*."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return []
    user, password = _jaas_safe(settings.kafka_username), _jaas_safe(_password(settings))
    return [argument for mechanism in SCRAM_MECHANISMS
            for argument in ("--add-scram", f'{mechanism}=[name="{user}",password="{password}"]')]


def _password(settings: Settings) -> str:
    return settings.kafka_password.get_secret_value()


def _jaas_safe(value: str) -> str:
    """A user or password as it can stand between quotes in a JAAS line and a --add-scram value."""
    if not value or any(char in value for char in '"\\\n\r'):
        raise StackError("kafka", "STORIES_KAFKA_USERNAME and STORIES_KAFKA_PASSWORD must be "
                         "non-empty, without quotes, backslashes or line breaks, for the local stack")
    return value


def _format_storage(settings: Settings, jvm: list[str], server_properties: Path, dirs: Dirs) -> None:
    """KRaft will not start on an unformatted log dir: format it once, with a new cluster id and
    the SCRAM credentials of the configured user. A storage formatted before holds whatever
    credentials it was given then: checked, since the broker could not authenticate to itself."""
    if (dirs.data / "meta.properties").is_file():
        _check_credentials(settings, dirs)
        return
    storage_tool = [*jvm, "kafka.tools.StorageTool"]
    cluster_id = run_tool("kafka", [*storage_tool, "random-uuid"], dirs).split()[-1]
    format_args = ["format", "-t", cluster_id, "-c", str(server_properties), "--ignore-formatted",
                   *scram_arguments(settings)]
    run_tool("kafka", [*storage_tool, *format_args], dirs)
    (dirs.data / CREDENTIALS_MARKER).write_text(_credentials_fingerprint(settings) + "\n")
    log.info("kafka: storage formatted, cluster id %s", cluster_id)


def _credentials_fingerprint(settings: Settings) -> str:
    """Names the SCRAM user and password a storage was formatted with, without holding them."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return "none"
    secret = f"{settings.kafka_username}\n{_password(settings)}".encode()
    return f"{settings.kafka_username} {hashlib.sha256(secret).hexdigest()}"


def _check_credentials(settings: Settings, dirs: Dirs) -> None:
    """Refuse a storage whose SCRAM credentials are not the configured user's (or that has none,
    formatted before the stack turned SASL on): the broker would refuse every client."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return
    marker = dirs.data / CREDENTIALS_MARKER
    formatted_with = marker.read_text().strip() if marker.is_file() else "none"
    if formatted_with == _credentials_fingerprint(settings):
        return
    raise StackError("kafka", (
        f"{dirs.data} was formatted without the SCRAM credentials of user "
        f"{settings.kafka_username!r} (formatted before SASL was on, or with another user or "
        f"password): the broker would refuse every client. Delete the Kafka data, its topics "
        f"and events with it (`stories down && rm -rf {dirs.data}`, or `make clean` for the "
        f"whole stack), then `stories up` formats it again"))

def probe(settings: Settings) -> str:
    """Ready once the broker lists itself in its metadata; reports how many topics it holds."""
    from confluent_kafka.admin import AdminClient  # imported here: keeps `import infra.stack` cheap

    from core.clients import kafka_config

    # log_level 0: a broker still starting is expected, not worth librdkafka's error lines.
    admin = AdminClient({**kafka_config(settings), "log_level": 0})
    metadata = admin.list_topics(timeout=3)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no broker")
    return count(len(metadata.topics), "topic")


SERVICE = Service("kafka", endpoint, command, probe, "server.log", 120.0)
