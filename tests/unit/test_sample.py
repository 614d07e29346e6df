"""The demo's sample: a hand-written world sent like the simulator's, then a fixed script."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import schemas
from simulation.sample import build_scenario, by_topic, sample_world
from simulation.world import World, graph_count

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_the_sample_world_is_written_out_by_hand():
    world = sample_world()
    assert world.follower_counts()[:2] == [9, 3] and sum(world.follower_counts()) == 12
    assert world.close_friends[0] == [1, 2]
    assert graph_count(world) == 13


def test_a_world_by_hand_reads_its_graph_both_ways():
    world = World.of(["a", "b", "c"], {"b": ["a"], "c": ["a", "b"]}, {"a": ["c"]})
    assert world.following == [set(), {0}, {0, 1}]
    assert world.followers == [{1, 2}, {2}, set()]
    assert world.close_friends == [[2], [], []]


def test_every_sample_event_is_valid_and_the_graph_comes_first():
    scenario = build_scenario(NOW)
    for name, record in scenario.events:
        schemas.validate(name, record)
    graph = scenario.events[:13]
    assert {name for name, _ in graph} == {"UserFollowed", "CloseFriendsChanged"}
    assert all(record["occurred_at"] < scenario.start for _, record in graph)
    times = [r["occurred_at"] for _, r in scenario.events]
    assert times == sorted(times)


def test_the_script_is_fixed_and_only_the_ids_are_fresh():
    first, second = build_scenario(NOW), build_scenario(NOW)
    shape = Counter(name for name, _ in first.events)
    assert shape == Counter(name for name, _ in second.events)
    assert (shape["StoryPosted"], shape["StoryViewed"], shape["StoryDeleted"]) == (4, 10, 1)
    assert set(first.story_ids) == {"public", "friends", "photo", "doomed"}
    assert not set(first.story_ids.values()) & set(second.story_ids.values())
    public = first.story_ids["public"]
    viewers = {r["actor_id"] for n, r in first.events
               if n == "StoryViewed" and r["story_id"] == public}
    assert len(viewers) == 7


def test_the_sample_splits_into_its_topics():
    split = by_topic(build_scenario(NOW).events)
    assert set(split) == {"social-graph", "story-lifecycle", "engagement"}
    assert len(split["social-graph"]) == 14  # the world's graph and one unfollow

