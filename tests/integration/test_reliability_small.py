"""The core of `make reliability` at a small size: real faults, nothing lost or duplicated.
On the local cluster the faults that restart single-node services are left to the node-loss
scenarios (`python -m reliability --cluster`)."""

from __future__ import annotations

import pytest

from core.clients import redis_clustered
from core.settings import Settings
from reliability.scenarios import SCENARIOS, SINGLE_NODE_ONLY, Size

SMALL = Size(users=15, stories=8, views=300, kills=2)
ON_THE_CLUSTER = redis_clustered(Settings())


@pytest.mark.parametrize("name", [name for name in SCENARIOS
                                  if not (ON_THE_CLUSTER and name in SINGLE_NODE_ONLY)])
def test_scenario_loses_and_duplicates_nothing(name, local_stack, tmp_path):
    row = SCENARIOS[name](local_stack, SMALL, tmp_path, seed=11)
    assert row.events_in > 0 and row.reflected == row.events_in, row
    assert (row.lost, row.duplicated, row.leaks, row.replay_diff) == (0, 0, 0, 0), row
