"""`stories replay` options: what each asks for, and the combinations refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from projections.catalogue import PROJECTIONS
from projections.replay import UnfinishedReplay
from projections.replay_checkpoint import ReplayCheckpoint
from stories.commands.replay import plan


def test_by_default_every_projection_from_the_first_event():
    chosen = plan(None, False, False, None, 5.0)
    assert (chosen.projections, chosen.since, chosen.resume, chosen.from_beginning) == (
        PROJECTIONS, None, False, False)


def test_resume_and_from_beginning_are_what_they_say():
    assert plan(None, False, False, None, 0, resume=True).resume
    assert plan(None, False, True, None, 0).from_beginning


@pytest.mark.parametrize("options", [
    {"from_beginning": True}, {"since": "2026-11-20T00:00:00+00:00"},
    {"projection": ["trays"]}, {"all_": True},
])
def test_resume_takes_the_plan_it_started_with_and_nothing_else(options):
    arguments = {"projection": None, "all_": False, "from_beginning": False, "since": None,
                 "grace": 0, "resume": True, **options}
    with pytest.raises(typer.BadParameter, match="--resume"):
        plan(**arguments)


def test_an_interrupted_replay_is_named_with_both_ways_out():
    found = ReplayCheckpoint(7, ("trays",), None, {"trays": 6},
                             updated_at=datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    message = str(UnfinishedReplay(found))
    assert "version 7 (trays)" in message and "--resume" in message
    assert "--from-beginning" in message
    assert str(UnfinishedReplay(None)) == "no interrupted replay to resume"
