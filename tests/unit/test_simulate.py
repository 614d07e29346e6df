"""The simulator: valid events only, deterministic, a heavy-tailed world, realistic viewing."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from simulation.emitter import write_file
from simulation.schedule import Schedule
from simulation.simulate import (
    Mix,
    Simulation,
    SimulationConfig,
    build_world,
    follower_share_of_top,
)

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def config(**options) -> SimulationConfig:
    defaults = {"users": 400, "seed": 1, "start": START, "rate": 2000.0, "events": 4000}
    return SimulationConfig(**{**defaults, **options})


@pytest.mark.parametrize("seed", [1, 2, 3, 42, 2026])
def test_every_event_passes_validation(seed):
    events = list(Simulation(config(seed=seed)).events())
    for name, record in events:
        schemas.validate(name, record)
    assert len(events) > 4000  # the graph comes on top of the activity


def test_mixes_backdating_and_no_media_stay_valid():
    variants = [
        config(seed=5, mix=Mix.parse("text=0,image=0.5,video=0.5,stickers=1,answer=1,react=0.5")),
        config(seed=6, backdate=30, mix=Mix.parse("delete=0.3,highlight=0.5,churn=0.05")),
        config(seed=7, simulate_media=False, graph=False),
    ]
    for variant in variants:
        for name, record in Simulation(variant).events():
            schemas.encode(name, record)  # validates and encodes, as the producer does


def test_a_long_run_covers_the_whole_catalogue_but_expiry():
    # Simulated users never erase their accounts (one erased user would empty a small world's
    # graph); erasure has tests of its own.
    wanted = set(schemas.EVENT_NAMES) - {"StoryExpired", "MediaRejected", "UserErased"}
    mix = Mix.parse("delete=0.2,highlight=0.6,churn=0.02,reply=0.05")
    seen = Counter(name for name, _ in Simulation(config(events=30_000, mix=mix)).events())
    assert wanted <= set(seen), wanted - set(seen)
    assert seen["StoryViewed"] > seen["StoryPosted"] * 3


def test_same_seed_same_bytes_other_seed_other_events(tmp_path):
    paths = [tmp_path / f"{n}.jsonl" for n in ("a", "b", "c")]
    write_file(Simulation(config(seed=11)).events(), paths[0])
    write_file(Simulation(config(seed=11)).events(), paths[1])
    write_file(Simulation(config(seed=12)).events(), paths[2])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_followers_are_heavy_tailed(seed):
    world = build_world(config(users=3000, seed=seed))
    assert follower_share_of_top(world, 0.01) > 0.30
    counts = sorted(world.follower_counts())
    assert counts[len(counts) // 2] < 10 < counts[-1] / 50  # most are small, a few huge


def test_activity_is_dated_at_the_target_rate_after_the_graph():
    sim = Simulation(config(rate=500.0, events=1000))
    events = list(sim.events())
    graph, activity = events[: sim.graph_count()], events[sim.graph_count():]
    assert all(r["occurred_at"] < START for _, r in graph)
    times = [r["occurred_at"] for name, r in activity if name != "StoryPosted"]
    assert times == sorted(times)
    assert activity[-1][1]["occurred_at"] - START == timedelta(milliseconds=999 * 2)


def test_backdated_posts_expire_that_long_after_they_are_sent():
    events = list(Simulation(config(backdate=20, graph=False, events=3000)).events())
    for index, (name, record) in enumerate(events):
        if name == "StoryPosted":
            sent = START + timedelta(milliseconds=index * 1000 // 2000)
            assert record["expires_at"] - sent == timedelta(seconds=20)
            assert record["occurred_at"] < sent - timedelta(minutes=30)


def test_viewers_tap_through_an_authors_stories_in_posting_order():
    events = list(Simulation(config(events=20_000, graph=False)).events())
    posted = {r["story_id"]: i for i, (name, r) in enumerate(events) if name == "StoryPosted"}
    last: dict[tuple[str, str], int] = {}
    for name, record in events:
        if name != "StoryViewed":
            continue
        pair = (record["actor_id"], record["author_id"])
        order = posted[record["story_id"]]
        assert order > last.get(pair, -1), "a viewer went back to an older story"
        last[pair] = order


def test_views_come_mostly_in_the_first_hours():
    sim = Simulation(config())
    sim.rng = random.Random(3)
    delays = [d for d in (sim._view_delay(86_400) for _ in range(20_000)) if d is not None]
    hours = sorted(d / 3600 for d in delays)
    assert hours[len(hours) // 2] < 2
    assert sum(h < 6 for h in hours) / len(hours) > 0.75


def test_media_stories_get_simulated_processing_only_when_asked():
    def media_events(simulate_media: bool) -> tuple[set[str], set[str]]:
        events = Simulation(config(simulate_media=simulate_media, events=6000)).events()
        posted, processed = set(), set()
        for name, record in events:
            if name == "StoryPosted" and record["kind"] != "TEXT":
                posted.add(record["story_id"])
            elif name == "MediaProcessed":
                processed.add(record["story_id"])
        return posted, processed

    posted, processed = media_events(True)
    assert processed <= posted and len(processed) > 0.8 * len(posted)
    assert media_events(False)[1] == set()


def test_mix_parsing_names_its_errors():
    assert Mix.parse("video=0.5, react=0.2").video == 0.5
    with pytest.raises(ValueError, match="unknown mix entry 'gifs'"):
        Mix.parse("gifs=0.1")
    with pytest.raises(ValueError, match="between 0 and 1"):
        Mix.parse("react=2")


def test_another_start_gives_the_same_world_with_fresh_ids():
    first = list(Simulation(config(seed=4)).events())
    later = list(Simulation(config(seed=4, start=START + timedelta(hours=1))).events())
    assert [(n, r["actor_id"]) for n, r in first] == [(n, r["actor_id"]) for n, r in later]
    assert not {r["event_id"] for _, r in first} & {r["event_id"] for _, r in later}


def test_the_schedule_keeps_order_among_equal_times():
    schedule, seen = Schedule(), []
    schedule.call(2.0, seen.append, "late")
    schedule.call(1.0, seen.append, "first")
    schedule.emit(1.0, "StoryViewed", 3, story_id="s")
    assert schedule.advance() is None and seen == ["first"]
    due = schedule.advance()
    assert due is not None and (due.name, due.actor, due.fields) == ("StoryViewed", 3,
                                                                     {"story_id": "s"})
    assert schedule.advance() is None and seen == ["first", "late"] and schedule.now == 2.0
