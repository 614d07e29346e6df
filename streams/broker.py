"""How the faust app reaches the brokers: the same address, protocol and credentials as the
confluent-kafka clients (`core.clients.kafka_config`), in the form faust hands to aiokafka."""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from core.clients import kafka_ssl_context
from core.settings import Settings

__all__ = ["broker_credentials"]


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """SASL (over TLS for SASL_SSL), TLS alone for SSL, or None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings)
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,  # a context makes it SASL_SSL
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
