"""`stories replay` rebuilds read models from the log, entry by entry equal to the live ones."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core.metrics import REPLAY_REGISTRY
from harness.processes import free_port
from projections.catalogue import PROJECTIONS, kinds_of
from projections.queries import read_tray
from projections.stores.cql_store import CqlReadModels
from projections.versions import read_serving_versions
from simulation.sample import build_scenario
from tests.integration.readmodel_helpers import redis_dump, viewer_rows
from tests.integration.test_worker import caught_up, emit_all
from tests.integration.worker_helpers import PrivateDeployment


@pytest.fixture
def built(local_stack, tmp_path):
    """A deployment whose worker has folded the sample world, then stopped (a quiet log)."""
    d = PrivateDeployment(local_stack, tmp_path)
    d.start_worker()
    world = build_scenario()
    emit_all(d, world.events)
    d.wait_idle()
    assert caught_up(d.runtime.redis_models(), world), d.logs()
    d.stop(d.workers[0])
    yield d, world
    d.close()


def run_replay(d, *args):
    result = subprocess.run([sys.executable, "-m", "stories.cli", "replay", "--grace", "0", *args],
                            env=d.env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "events/s" in result.stderr
    d.runtime.__dict__.pop("version")
    return d.runtime.version


def _replayed() -> float:
    """Events this process's replays have folded so far, over every topic."""
    return sum(sample.value for metric in REPLAY_REGISTRY.collect()
               if metric.name == "stories_replay_events" for sample in metric.samples
               if sample.name.endswith("_total"))


def keyspaces(d) -> set[str]:
    rows = d.runtime.session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
    return {r.keyspace_name for r in rows}


def test_replay_of_one_projection_switches_only_it(built):
    d, world = built
    live = d.runtime.version.version("trays")
    before = redis_dump(d.runtime.redis, live.redis_prefix)
    trays = {k: v for k, v in before.items() if k.split(":")[0] in kinds_of("trays")}
    for key in list(trays)[:3]:  # damage the live trays
        d.runtime.redis.delete(f"{live.redis_prefix}{key}")

    versions = run_replay(d, "--projection", "trays", "--metrics-port", str(free_port()))
    assert versions.number("trays") == live.number + 1
    assert all(versions.number(p) == live.number for p in PROJECTIONS if p != "trays")
    rebuilt = redis_dump(d.runtime.redis, versions.version("trays").redis_prefix)
    assert rebuilt == trays  # only tray keys live in the new version, repaired
    old = redis_dump(d.runtime.redis, live.redis_prefix)
    assert old == {k: v for k, v in before.items() if k not in trays}  # the rest untouched
    assert live.keyspace in keyspaces(d)  # still serving the other projections
    assert read_serving_versions(d.runtime.session, d.settings.cql_keyspace) == versions


def test_cancelled_replay_leaves_the_live_version_intact(built, monkeypatch):
    from rich.console import Console

    from projections import replay as replay_module
    from projections.projector import Projector

    d, world = built
    live = d.runtime.version
    before = redis_dump(d.runtime.redis, live.version("stories").redis_prefix)
    real_apply = Projector.apply
    calls = []

    def apply_then_cancel(projector, suffix, events, partitions):
        calls.append(suffix)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the operator presses Ctrl-C mid-rebuild
        return real_apply(projector, suffix, events, partitions)

    monkeypatch.setattr(Projector, "apply", apply_then_cancel)
    replayed = _replayed()
    with pytest.raises(KeyboardInterrupt):
        replay_module.replay(d.runtime, replay_module.ReplayPlan(grace_seconds=0), Console())
    # Its metrics tell the same: two batches folded, the rest of the pass left, cancelled.
    assert _replayed() > replayed
    assert REPLAY_REGISTRY.get_sample_value("stories_replay_remaining_events") > 0
    assert 0 < REPLAY_REGISTRY.get_sample_value("stories_replay_progress_ratio") < 1
    assert REPLAY_REGISTRY.get_sample_value(
        "stories_replay_phase", {"stories_replay_phase": "cancelled"}) == 1
    new_number = live.newest() + 1
    assert read_serving_versions(d.runtime.session, d.settings.cql_keyspace) == live
    assert f"{live.base}_v{new_number}" not in keyspaces(d)
    assert redis_dump(d.runtime.redis, f"{live.base}:v{new_number}:") == {}
    assert redis_dump(d.runtime.redis, live.version("stories").redis_prefix) == before


# A replay process killed (SIGKILL, no clean-up) just before it folds its third batch.
KILLED_MID_REPLAY = """
import os, signal
from projections.projector import Projector
from stories.cli import app
real_apply, calls = Projector.apply, []
def apply_then_die(projector, suffix, events, partitions):
    calls.append(suffix)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_apply(projector, suffix, events, partitions)
Projector.apply = apply_then_die
app(["replay", "--grace", "0"])
"""


def test_a_killed_replay_resumes_and_rebuilds_identical_read_models(built):
    d, world = built
    live = d.runtime.version.version("stories")
    before = redis_dump(d.runtime.redis, live.redis_prefix)
    viewers_before = viewer_rows(CqlReadModels(d.runtime.session, live.keyspace), world)
    tray_before = read_tray(d.runtime.redis_models(), "user-2", int(time.time() * 1000))

    killed = subprocess.run([sys.executable, "-c", KILLED_MID_REPLAY], env=d.env(),
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert read_serving_versions(d.runtime.session, d.settings.cql_keyspace).newest() == live.number

    refused = subprocess.run([sys.executable, "-m", "stories.cli", "replay"], env=d.env(),
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert "--resume" in refused.stderr and "--from-beginning" in refused.stderr

    versions = run_replay(d, "--resume")
    new = versions.version("stories")
    assert {versions.number(p) for p in PROJECTIONS} == {live.number + 1}
    assert redis_dump(d.runtime.redis, new.redis_prefix) == before
    assert any(key.startswith("x:{p") for key in before)  # the partitions' expiry indexes too
    assert viewer_rows(CqlReadModels(d.runtime.session, new.keyspace), world) == viewers_before
    assert read_tray(d.runtime.redis_models(), "user-2", int(time.time() * 1000)) == tray_before
    assert redis_dump(d.runtime.redis, live.redis_prefix) == {}  # the old version is dropped
    assert live.keyspace not in keyspaces(d) and new.keyspace in keyspaces(d)
    nothing_left = subprocess.run([sys.executable, "-m", "stories.cli", "replay", "--resume"],
                                  env=d.env(), capture_output=True, text=True, timeout=300)
    assert nothing_left.returncode == 2 and "no interrupted replay" in nothing_left.stderr
