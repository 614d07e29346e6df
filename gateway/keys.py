"""The gateway's own Redis keys: request state outside the read-model versions.

Every key is `<cql_keyspace>:gw:<kind>:<parts>`; a replay never touches them. Only the
gateway's stores (rate limits, Idempotency-Keys, upload grants) build them, from here.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GatewayKind", "gateway_prefix", "gateway_key"]


class GatewayKind(StrEnum):
    """One kind of gateway key; the comment names its type and what it is keyed by."""

    RATE = "rl"  # counter per write kind, user and window
    IDEMPOTENCY = "idem"  # string per user and Idempotency-Key: the claim as JSON
    UPLOAD = "up"  # string per media id: "user|kind" of the granted upload


def gateway_prefix(cql_keyspace: str) -> str:
    """Where the gateway state of a deployment lives."""
    return f"{cql_keyspace}:gw:"


def gateway_key(prefix: str, kind: GatewayKind, *parts: str) -> str:
    return prefix + ":".join((kind, *parts))
