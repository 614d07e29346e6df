"""`stories replay` rebuilds the read models from the log, entry by entry equal to the live ones."""

from __future__ import annotations

import subprocess
import sys
import time

from projections.queries import read_tray
from projections.stores.cql_store import CqlReadModels
from projections.versions import read_live_number
from streams.sample import build_scenario
from tests.integration.readmodel_helpers import redis_dump, viewer_rows
from tests.integration.test_worker import caught_up, emit_all
from tests.integration.worker_helpers import PrivateDeployment


def test_replay_rebuilds_identical_read_models_and_switches(local_stack, tmp_path):
    d = PrivateDeployment(local_stack, tmp_path)
    try:
        d.start_worker()
        world = build_scenario()
        emit_all(d, world.events)
        live = d.runtime.version
        models = d.runtime.redis_models()
        d.wait_idle()
        assert caught_up(models, world), d.logs()
        before = redis_dump(d.runtime.redis, live.redis_prefix)
        viewers_before = viewer_rows(CqlReadModels(d.runtime.session, live.keyspace), world)
        tray_before = read_tray(models, "user-2", int(time.time() * 1000))
        d.stop(d.workers[0])  # a quiet log, so both versions see the same events

        result = subprocess.run([sys.executable, "-m", "stories.cli", "replay", "--grace", "0"],
                                env=d.env(), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "events/s" in result.stderr

        number = read_live_number(d.runtime.session, d.settings.cql_keyspace)
        assert number == live.number + 1
        d.runtime.__dict__.pop("version")
        new = d.runtime.version
        assert redis_dump(d.runtime.redis, new.redis_prefix) == before
        assert viewer_rows(CqlReadModels(d.runtime.session, new.keyspace), world) == viewers_before
        assert read_tray(d.runtime.redis_models(), "user-2", int(time.time() * 1000)) == tray_before
        assert redis_dump(d.runtime.redis, live.redis_prefix) == {}  # the old version is dropped
        keyspaces = {r.keyspace_name for r in d.runtime.session.execute(
            "SELECT keyspace_name FROM system_schema.keyspaces")}
        assert live.keyspace not in keyspaces and new.keyspace in keyspaces
    finally:
        d.close()
