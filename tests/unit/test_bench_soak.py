"""The soak section's pieces: when memory is sampled, how growth is read from the samples, and
the light read load (no services: tokens are stubbed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import soak
from bench.http_load import _script
from bench.soak import SOAK, WARM_UP, SoakPlan, memory_growth, sample_times, soak_readers
from simulation.world import World

MIB = 1048576


def plan(warmup: float, seconds: float, every: float) -> SoakPlan:
    return SoakPlan(users=10, seed=7, rate=1000, warmup_seconds=warmup, seconds=seconds,
                    sample_seconds=every, gateway_processes=2)


def sample(at: float, phase: str, worker_mib: float, gateway_mib: float) -> dict:
    return {"at_s": at, "phase": phase, "worker_rss_bytes": int(worker_mib * MIB),
            "gateway_rss_bytes": int(gateway_mib * MIB)}


def test_the_full_soak_samples_every_ten_seconds_from_the_start_to_the_end():
    times = sample_times(plan(60, 600, 10))
    warm_up = [at for at, phase in times if phase == WARM_UP]
    measured = [at for at, phase in times if phase == SOAK]
    assert warm_up == [0, 10, 20, 30, 40, 50]
    assert measured[0] == 60 and measured[-1] == 660 and len(measured) == 61
    assert measured == sorted(set(measured))


def test_the_baseline_and_the_end_are_sampled_whatever_the_interval():
    assert sample_times(plan(5, 12, 10)) == [(0, WARM_UP), (5, SOAK), (15, SOAK), (17, SOAK)]
    assert sample_times(plan(2, 4, 1)) == [(0, WARM_UP), (1, WARM_UP), (2, SOAK), (3, SOAK),
                                            (4, SOAK), (5, SOAK), (6, SOAK)]


def test_growth_runs_from_the_first_sample_after_the_warm_up_to_the_last():
    samples = [sample(0, WARM_UP, 300, 100), sample(10, WARM_UP, 600, 300),
               sample(20, SOAK, 650, 340), sample(30, SOAK, 700, 350), sample(40, SOAK, 676, 340)]
    worker, gateway = memory_growth(samples, "worker"), memory_growth(samples, "gateway")
    assert (worker["start_rss_bytes"], worker["end_rss_bytes"]) == (650 * MIB, 676 * MIB)
    assert worker["peak_rss_bytes"] == 700 * MIB
    assert worker["growth_pct"] == 4.0
    assert gateway["growth_pct"] == 0.0


def test_memory_that_shrinks_over_the_soak_grows_by_a_negative_percentage():
    samples = [sample(0, SOAK, 400, 200), sample(10, SOAK, 380, 200)]
    assert memory_growth(samples, "worker")["growth_pct"] == -5.0


def test_a_pause_makes_each_connection_wait_between_requests():
    requests = [("/api/v1/stories/tray", {"Authorization": "Bearer t"})]
    assert "delay = function() return 50 end" in _script(requests, pause_ms=50)
    assert "delay" not in _script(requests)


WORLD = World.of(["star", "ada", "bob", "cy", "loner"], {
    "ada": ["star", "bob", "cy"], "bob": ["star", "cy"], "cy": ["bob"], "star": ["ada"]})


def test_the_readers_follow_the_most_and_read_their_most_followed_author():
    assert soak_readers(WORLD) == [("ada", "star"), ("bob", "star"), ("star", "ada"),
                                   ("cy", "bob")]
    assert soak_readers(WORLD, 2) == [("ada", "star"), ("bob", "star")]


def test_each_reader_reads_the_tray_then_the_authors_stories_with_a_token_past_the_soak(
        monkeypatch):
    lifetimes = []
    monkeypatch.setattr(soak, "bearer", lambda deployment, viewer, seconds: (
        lifetimes.append(seconds) or {"Authorization": viewer}))
    reads = soak._reads(SimpleNamespace(), [("ada", "star"), ("bob", "star")], 660.0)
    assert reads == [("/api/v1/stories/tray", {"Authorization": "ada"}),
                     ("/api/v1/users/star/stories", {"Authorization": "ada"}),
                     ("/api/v1/stories/tray", {"Authorization": "bob"}),
                     ("/api/v1/users/star/stories", {"Authorization": "bob"})]
    assert lifetimes == [4260, 4260]


@pytest.mark.parametrize("rate", [300.0, 1000.0])
def test_the_simulator_runs_one_sample_past_the_end(rate):
    soak_plan = SoakPlan(users=10, seed=7, rate=rate, warmup_seconds=60, seconds=600,
                         sample_seconds=10, gateway_processes=2)
    background = soak._background_plan(soak_plan)
    assert (background.rate, background.seconds, background.probes) == (rate, 670, 0)
