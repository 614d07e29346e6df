"""Freshness: how long until a post is in a follower's tray, and a view in the viewer list.

A simulated world runs in the background (`stories simulate` in its own process, at a target
rate); meanwhile probes post a story and poll a follower's tray, and view a story and poll its
viewer list in CQL, one probe at a time. Each latency runs from handing the event to the
producer until the read model shows it. The suite measures several background rates in turn
(`at_loads` gathers them into the section).
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import schemas
from harness.deployment import Deployment
from harness.usage import resident_bytes
from harness.waiting import wait_until
from projections.queries import read_tray
from projections.runtime import Runtime
from projections.stores.cql_store import viewer_bucket

__all__ = ["FreshnessPlan", "measure_freshness", "percentiles", "at_loads", "PROBE_AUTHOR",
           "PROBE_FOLLOWER", "simulate_in_background", "reported_rate"]

PROBE_AUTHOR = "probe-author"
PROBE_FOLLOWER = "probe-follower"
PROBE_TIMEOUT = 30.0
POLL_SECONDS = 0.003


@dataclass(frozen=True)
class FreshnessPlan:
    """The background load and how many probes of each kind to take under it."""

    users: int
    seed: int
    rate: float
    seconds: float
    probes: int


def percentiles(samples: list[float]) -> dict[str, float | int]:
    """p50/p95/p99 (nearest rank) of latencies in seconds, reported in milliseconds."""
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"count": len(ordered), "p50_ms": rank(0.50), "p95_ms": rank(0.95),
            "p99_ms": rank(0.99), "max_ms": round(ordered[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}


def _post(runtime: Runtime, story_id: str) -> None:
    runtime.events.emit("StoryPosted", schemas.new_event(
        "StoryPosted", PROBE_AUTHOR, story_id=story_id, kind="TEXT", text="probe"))


def _in_tray(runtime: Runtime, story_id: str) -> bool:
    tray = read_tray(runtime.redis_models(), PROBE_FOLLOWER, int(time.time() * 1000))
    return any(item.latest_story_id == story_id for item in tray)


def _poll(predicate, began: float) -> float | None:
    """Seconds from `began` until the predicate holds, None past the probe timeout."""
    while time.perf_counter() - began < PROBE_TIMEOUT:
        if predicate():
            return time.perf_counter() - began
        time.sleep(POLL_SECONDS)
    return None


def _post_probe(runtime: Runtime) -> float | None:
    story_id = str(uuid.uuid4())
    began = time.perf_counter()
    _post(runtime, story_id)
    return _poll(lambda: _in_tray(runtime, story_id), began)


class _ViewProbe:
    """Views of one probe story by fresh viewers, looked up in the viewer list."""

    def __init__(self, runtime: Runtime, story_id: str):
        self.runtime, self.story_id, self.count = runtime, story_id, 0
        keyspace = dict(runtime.cql_models().keyspace)["engagement"]
        self.lookup = runtime.session.prepare(
            f"SELECT viewer_id FROM {keyspace}.story_viewers"
            " WHERE story_id = ? AND bucket = ? AND viewer_id = ?")

    def _listed(self, viewer: str) -> bool:
        params = (self.story_id, viewer_bucket(viewer), viewer)
        return self.runtime.session.execute(self.lookup, params).one() is not None

    def __call__(self) -> float | None:
        self.count += 1
        viewer = f"probe-viewer-{self.count}"
        began = time.perf_counter()
        self.runtime.events.emit("StoryViewed", schemas.new_event(
            "StoryViewed", viewer, story_id=self.story_id, author_id=PROBE_AUTHOR))
        return _poll(lambda: self._listed(viewer), began)


def _setup_probes(deployment: Deployment) -> _ViewProbe:
    """The probe follower follows the probe author, who has a story to be viewed."""
    runtime = deployment.runtime
    runtime.events.emit("UserFollowed", schemas.new_event(
        "UserFollowed", PROBE_FOLLOWER, followee_id=PROBE_AUTHOR))
    story_id = str(uuid.uuid4())
    _post(runtime, story_id)
    wait_until(lambda: _in_tray(runtime, story_id), "the probe story in the probe tray", 300,
               interval=0.05)
    return _ViewProbe(runtime, story_id)


def simulate_in_background(deployment: Deployment, plan: FreshnessPlan,
                           label: str = "simulate") -> Any:
    """`stories simulate` at the plan's rate for its seconds, without the graph (already sent);
    its output in `<label>.log`."""
    return deployment.spawn(label, [
        sys.executable, "-m", "stories.cli", "simulate", "--users", str(plan.users),
        "--seed", str(plan.seed), "--rate", str(plan.rate), "--duration", str(plan.seconds),
        "--no-graph",
    ])


def reported_rate(deployment: Deployment, label: str = "simulate") -> int | None:
    """The rate `stories simulate` itself reports in its last line (None if absent)."""
    found = re.findall(r"sent \d+ events in [\d.]+ s \(([\d,]+)/s\)",
                       deployment.log_tail(label, 2000))
    return int(found[-1].replace(",", "")) if found else None


def measure_freshness(deployment: Deployment, plan: FreshnessPlan,
                      worker_pid: int) -> dict[str, Any]:
    """Probe both paths while the simulated world runs at the target rate."""
    view_probe = _setup_probes(deployment)
    runtime = deployment.runtime
    produced_before, lag_before = deployment.produced(), deployment.lag()
    began = time.perf_counter()
    background = simulate_in_background(deployment, plan)
    time.sleep(min(2.0, plan.seconds / 5))  # let the load build up first
    posts: list[float] = []
    views: list[float] = []
    missed = 0
    while background.poll() is None and min(len(posts), len(views)) < plan.probes:
        for probe, samples in ((lambda: _post_probe(runtime), posts), (view_probe, views)):
            latency = probe()
            if latency is None:
                missed += 1
            else:
                samples.append(latency)
        time.sleep(0.05)
    rss = resident_bytes(worker_pid)
    lag_at_end, produced_at_end = deployment.lag(), deployment.produced()
    probing = time.perf_counter() - began
    background.wait(plan.seconds * 3 + 120)
    seconds = time.perf_counter() - began
    sent = deployment.produced() - produced_before
    consumed = (produced_at_end - lag_at_end) - (produced_before - lag_before)
    return {
        "background_target_rate": plan.rate,
        "background_rate": reported_rate(deployment) or round(sent / seconds),
        "background_events": sent,
        "users": plan.users,
        "lag_before": lag_before,
        "lag_at_last_probe": lag_at_end,
        "consumed_rate": round(consumed / probing),
        "kept_up": lag_at_end <= plan.rate,  # at most a second behind at the last probe
        "post_to_tray": percentiles(posts),
        "view_to_viewer_list": percentiles(views),
        "probes_timed_out": missed,
        "worker_rss_bytes": rss,
        "simulate_exit_code": background.returncode,
    }


def at_loads(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """The section from one result per background rate: the lightest load's figures on top (the
    load the targets are stated at), every load under `loads`, lightest first, and the worker's
    memory after the last load, the heaviest."""
    ordered = sorted(loads, key=lambda load: load["background_target_rate"])
    return {**ordered[0], "loads": ordered, "worker_rss_bytes": ordered[-1]["worker_rss_bytes"]}
