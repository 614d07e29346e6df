"""The core of `make reliability` at a small size: real faults, nothing lost or duplicated."""

from __future__ import annotations

import pytest

from reliability.scenarios import SCENARIOS, Size

SMALL = Size(users=15, stories=8, views=300, kills=2)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_loses_and_duplicates_nothing(name, local_stack, tmp_path):
    row = SCENARIOS[name](local_stack, SMALL, tmp_path, seed=11)
    assert row.events_in > 0 and row.reflected == row.events_in, row
    assert (row.lost, row.duplicated, row.leaks, row.replay_diff) == (0, 0, 0, 0), row
