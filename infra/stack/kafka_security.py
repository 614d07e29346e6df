"""Authentication and TLS of the stack's Kafka brokers: what STORIES_KAFKA_SECURITY_PROTOCOL asks.

SASL_PLAINTEXT by default, with the configured user's SCRAM credentials written into each
broker's storage when it is formatted, and the brokers authenticating to each other (and to
themselves) as that user; SSL and SASL_SSL serve the throwaway CA's certificate
(infra/stack/tls.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.settings import Settings
from infra.stack.service import StackError
from infra.stack.state import Dirs
from infra.stack.tls import ensure_tls, kafka_ssl_properties

__all__ = ["LISTENER", "security_properties", "sasl_properties", "scram_arguments",
           "record_credentials", "check_credentials"]

LISTENER = "CLIENT"  # the listener of clients and of the brokers' own traffic
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
INTER_BROKER_MECHANISM = "SCRAM-SHA-512"
# Written beside meta.properties when the storage is formatted: whose SCRAM credentials it holds.
CREDENTIALS_MARKER = "stories-scram-user"


def security_properties(settings: Settings, host: str) -> str:
    """server.properties lines of the client listener: SASL, TLS, both or none."""
    return "\n".join(filter(None, [sasl_properties(settings), _tls_properties(settings, host)]))


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


def _credentials_fingerprint(settings: Settings) -> str:
    """Names the SCRAM user and password a storage was formatted with, without holding them."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return "none"
    secret = f"{settings.kafka_username}\n{_password(settings)}".encode()
    return f"{settings.kafka_username} {hashlib.sha256(secret).hexdigest()}"


def check_credentials(settings: Settings, dirs: Dirs) -> None:
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



def record_credentials(settings: Settings, dirs: Dirs) -> None:
    """Note, beside the freshly formatted storage, whose credentials it holds."""
    (dirs.data / CREDENTIALS_MARKER).write_text(_credentials_fingerprint(settings) + "\n")
