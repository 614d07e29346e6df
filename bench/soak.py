"""Soak: does the worker's or the gateway's resident memory grow under a long steady load?

`stories simulate` sends events at a steady rate in its own process (as in the freshness
section) while a gateway (`stories gateway` under uvicorn, as in the gateway section) serves a
light steady read load: wrk with a few connections, each pausing between its requests, so the
machine is not saturated. The readers are the world's users who follow the most, each reading
their tray and the stories of the author they follow who has the most followers; the trays
fill as the simulator posts, so the soak needs no earlier section. The resident memory of the
running worker (supervisor and children) and of the gateway (uvicorn and its workers) is
sampled every few seconds from the start. Growth runs from the sample at the end of the
warm-up to the last one: start-up, caches filling and the load building up are not growth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.freshness import FreshnessPlan, reported_rate, simulate_in_background
from bench.gateway_load import bearer, missing_pieces, start_gateway
from bench.http_load import LoadRequest, run_wrk
from harness.deployment import Deployment
from harness.usage import resident_bytes
from simulation.world import World

__all__ = ["SoakPlan", "measure_soak", "soak_readers", "sample_times", "memory_growth",
           "WARM_UP", "SOAK"]

WARM_UP, SOAK = "warm-up", "soak"  # each sample's phase; the first soak sample is the baseline
READERS = 500  # users reading, as many as the gateway section takes of each kind


@dataclass(frozen=True)
class SoakPlan:
    """The load, how long it runs before and while memory is measured, how often it is read."""

    users: int
    seed: int
    rate: float
    warmup_seconds: float
    seconds: float
    sample_seconds: float
    gateway_processes: int
    read_connections: int = 4
    read_pause_ms: int = 50  # each connection's pause between reads: under 80 reads/s in all

    @property
    def total_seconds(self) -> float:
        return self.warmup_seconds + self.seconds


def sample_times(plan: SoakPlan) -> list[tuple[float, str]]:
    """(seconds from the start, phase) of each sample: every `sample_seconds` through the
    warm-up, then from its end (the baseline) every `sample_seconds` to the end, included."""
    def every(start: float, stop: float) -> list[float]:
        steps = math.ceil(round((stop - start) / plan.sample_seconds, 6))
        return [start + step * plan.sample_seconds for step in range(steps)]

    warm_up = [(at, WARM_UP) for at in every(0, plan.warmup_seconds)]
    soak = [(at, SOAK) for at in every(plan.warmup_seconds, plan.total_seconds)]
    return warm_up + soak + [(plan.total_seconds, SOAK)]


def memory_growth(samples: Sequence[dict[str, Any]], process: str) -> dict[str, Any]:
    """A process's resident memory at the baseline, at the end and at its peak over the soak,
    and the growth from baseline to end in percent."""
    soak = [sample[f"{process}_rss_bytes"] for sample in samples if sample["phase"] == SOAK]
    start, end = soak[0], soak[-1]
    return {"start_rss_bytes": start, "end_rss_bytes": end, "peak_rss_bytes": max(soak),
            "growth_pct": round((end - start) / start * 100, 2) if start else None}


def _sample_memory(plan: SoakPlan, began: float, pids: dict[str, int]) -> list[dict[str, Any]]:
    """Each process tree's resident memory at each of the plan's sample times."""
    samples = []
    for at, phase in sample_times(plan):
        time.sleep(max(0.0, began + at - time.perf_counter()))
        samples.append({"at_s": round(time.perf_counter() - began, 1), "phase": phase,
                        **{f"{name}_rss_bytes": resident_bytes(pid) for name, pid in pids.items()}})
    return samples


def soak_readers(world: World, count: int = READERS) -> list[tuple[str, str]]:
    """(viewer, author) for the `count` users who follow the most: the author is the one they
    follow who has the most followers."""
    ordered = sorted(range(len(world.user_ids)), key=lambda u: -len(world.following[u]))
    return [(world.user_ids[u], world.user_ids[_most_followed(world, world.following[u])])
            for u in ordered[:count] if world.following[u]]


def _most_followed(world: World, users: set[int]) -> int:
    return max(sorted(users), key=lambda u: len(world.followers[u]))


def _reads(deployment: Deployment, pairs: Sequence[tuple[str, str]],
           seconds: float) -> list[LoadRequest]:
    """Each viewer's tray, then their author's stories, with a token that outlasts the soak."""
    reads: list[LoadRequest] = []
    for viewer, author in pairs:
        signed = bearer(deployment, viewer, round(seconds) + 3600)
        reads += [("/api/v1/stories/tray", signed), (f"/api/v1/users/{author}/stories", signed)]
    return reads


def _background_plan(plan: SoakPlan) -> FreshnessPlan:
    """The simulator's load, kept on one sample past the end so the last sample is under it."""
    return FreshnessPlan(plan.users, plan.seed, plan.rate,
                         plan.total_seconds + plan.sample_seconds, probes=0)


def measure_soak(deployment: Deployment, pairs: Sequence[tuple[str, str]], plan: SoakPlan,
                 worker_pid: int) -> dict[str, Any]:
    """Memory of the worker and of a gateway under the simulated load and steady reads by
    `pairs` of (viewer, author)."""
    missing = missing_pieces()
    if missing:
        return missing
    reads = _reads(deployment, pairs, plan.total_seconds)
    gateway, port = start_gateway(deployment, plan.gateway_processes, "soak-gateway")
    try:
        found = _under_load(deployment, plan, reads, port,
                            {"worker": worker_pid, "gateway": gateway.pid})
    finally:
        deployment.stop(gateway)
    return {**found, "gateway_processes": plan.gateway_processes, "readers": len(pairs)}


def _under_load(deployment: Deployment, plan: SoakPlan, reads: list[LoadRequest], port: int,
                pids: dict[str, int]) -> dict[str, Any]:
    """Samples taken while the simulator and wrk run; the load's own figures beside them."""
    produced_before, lag_before = deployment.produced(), deployment.lag()
    background = simulate_in_background(deployment, _background_plan(plan), "soak-simulate")
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(run_wrk, f"http://127.0.0.1:{port}", reads,
                           plan.total_seconds + plan.sample_seconds, plan.read_connections, 1,
                           plan.read_pause_ms)
        samples = _sample_memory(plan, began, pids)
        lag_at_end = deployment.lag()
        consumed = (deployment.produced() - lag_at_end) - (produced_before - lag_before)
        consuming = time.perf_counter() - began
        served = load.result()
    background.wait(plan.total_seconds * 2 + 120)
    sent = deployment.produced() - produced_before
    return {**_soak_figures(plan, samples), **_background_figures(deployment, plan, sent, began),
            "consumed_rate": round(consumed / consuming), "lag_at_end": lag_at_end,
            "kept_up": lag_at_end <= plan.rate, "reads": served,
            "simulate_exit_code": background.returncode}


def _soak_figures(plan: SoakPlan, samples: list[dict[str, Any]]) -> dict[str, Any]:
    soak = [sample for sample in samples if sample["phase"] == SOAK]
    return {"warmup_seconds": plan.warmup_seconds,
            "seconds": round(soak[-1]["at_s"] - soak[0]["at_s"], 1),
            "sample_seconds": plan.sample_seconds,
            "worker": memory_growth(samples, "worker"),
            "gateway": memory_growth(samples, "gateway"), "samples": samples}


def _background_figures(deployment: Deployment, plan: SoakPlan, sent: int,
                        began: float) -> dict[str, Any]:
    """What the simulator sent: the rate it reports itself, else the events over the time."""
    seconds = time.perf_counter() - began
    return {"background_target_rate": plan.rate,
            "background_rate": reported_rate(deployment, "soak-simulate") or round(sent / seconds),
            "background_events": sent}

