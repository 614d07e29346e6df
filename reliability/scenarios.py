"""The scenarios of `make reliability`, by name: each injects real faults into real processes
and checks the result against the log (exact counts, entry-by-entry equality with a replay)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from core.settings import Settings
from reliability.faults.access import access_matrix
from reliability.faults.fuzz import api_fuzz
from reliability.faults.gateway import gateway_killed
from reliability.faults.nodes import (
    cql_node_killed,
    kafka_broker_killed,
    one_of_three_workers_killed,
    redis_primary_killed,
    three_workers,
)
from reliability.faults.services import cql_outage, kafka_restart, redis_wiped
from reliability.faults.workers import one_of_two_killed, worker_killed
from reliability.outcome import Row, Size

__all__ = ["Row", "Scenario", "SCENARIOS", "SECURITY", "NODE_LOSS", "SINGLE_NODE_ONLY", "Size"]

Scenario = Callable[[Settings, Size, Path, int], Row]

# Faults that must lose, duplicate and leak nothing (run at a small size by the tests too).
SCENARIOS: Mapping[str, Scenario] = MappingProxyType({
    "worker-kill": worker_killed,
    "two-workers": one_of_two_killed,
    "redis-wiped": redis_wiped,
    "cql-outage": cql_outage,
    "kafka-restart": kafka_restart,
    "gateway-kill": gateway_killed,
})

# These stop and start the single-node stack's `redis`, `cassandra` and `kafka`: on the local
# cluster, NODE_LOSS kills its nodes instead.
SINGLE_NODE_ONLY = frozenset({"redis-wiped", "cql-outage", "kafka-restart"})

# What the gateway answers to callers it must refuse and to input it must reject.
SECURITY: Mapping[str, Scenario] = MappingProxyType({
    "access-matrix": access_matrix,
    "api-fuzz": api_fuzz,
})

# One node of the local cluster lost under a fixed load (`python -m reliability --cluster`).
NODE_LOSS: Mapping[str, Scenario] = MappingProxyType({
    "redis-primary": redis_primary_killed,
    "kafka-broker": kafka_broker_killed,
    "cql-node": cql_node_killed,
    "worker-of-three": one_of_three_workers_killed,
    "three-workers": three_workers,
})
