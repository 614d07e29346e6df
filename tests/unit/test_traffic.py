"""The reliability traffic: a small simulated world, seeded, with its expected read models."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from schemas.rules import MIN_LIFETIME_SECONDS
from simulation.traffic import Expected, Traffic, make_traffic

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def names(traffic: Traffic) -> Counter[str]:
    return Counter(name for name, _ in traffic.events)


def test_the_positional_signature_gives_the_old_shape_of_traffic():
    traffic = make_traffic(3, 30, 12, 900, now=NOW)
    counted = names(traffic)
    assert (counted["StoryPosted"], counted["StoryViewed"]) == (12, 900)
    assert counted["UserFollowed"] > 30 and counted["StoryReacted"] > 100
    assert "StoryDeleted" not in counted
    posted = {r["story_id"]: r["actor_id"] for n, r in traffic.events if n == "StoryPosted"}
    assert traffic.stories == posted
    assert not traffic.expected.deleted and not traffic.ending and traffic.last_expiry() is None
    assert all(at - NOW > timedelta(hours=20) for at in traffic.expected.expires_at.values())


def test_every_event_is_valid_and_none_is_in_the_future():
    traffic = make_traffic(1, expiring=3, deleted=2, expire_after=600)
    for name, record in traffic.events:
        schemas.validate(name, record)
        assert record["occurred_at"] <= datetime.now(UTC)


def test_same_seed_and_moment_same_events_other_seed_other_events():
    first, again = make_traffic(7, now=NOW), make_traffic(7, now=NOW)
    assert first.events == again.events and first.stories == again.stories
    assert make_traffic(8, now=NOW).events != first.events


def test_views_come_from_followers_of_the_author():
    traffic = make_traffic(2, now=NOW)
    follows = {(r["actor_id"], r["followee_id"]) for n, r in traffic.events
               if n == "UserFollowed"}
    views = [(r["actor_id"], r["author_id"]) for n, r in traffic.events if n == "StoryViewed"]
    followed_authors = {followee for _, followee in follows}
    by_follower = [v for v in views if v[1] in followed_authors]
    assert by_follower and all(v in follows for v in by_follower)


def test_expiring_stories_live_an_hour_and_expire_during_the_run():
    traffic = make_traffic(4, stories=10, expiring=3, expire_after=45, expire_every=1.5, now=NOW)
    posts = [r for n, r in traffic.events if n == "StoryPosted"]
    short = [p for p in posts if p["lifetime_seconds"] == MIN_LIFETIME_SECONDS]
    assert [p["story_id"] for p in short] == [p["story_id"] for p in posts[:3]]
    assert [p["expires_at"] - NOW for p in short] == [timedelta(seconds=s) for s in (45, 46.5, 48)]
    assert traffic.ending == {p["story_id"]: p["actor_id"] for p in short}
    assert traffic.last_expiry() == NOW + timedelta(seconds=48)
    expected = traffic.expected
    for post in short:
        story_id = post["story_id"]
        assert expected.listed(story_id, post["expires_at"] - timedelta(milliseconds=1))
        assert not expected.listed(story_id, post["expires_at"])
        assert expected.views[story_id]  # insights outlive the story


def test_deleted_stories_go_mid_way_through_their_views_and_show_no_counters():
    traffic = make_traffic(5, stories=10, views=2000, deleted=3, expiring=2, now=NOW)
    log = traffic.events
    deletions = {r["story_id"]: i for i, (n, r) in enumerate(log) if n == "StoryDeleted"}
    short = {r["story_id"] for n, r in log
             if n == "StoryPosted" and r["lifetime_seconds"] == MIN_LIFETIME_SECONDS}
    assert len(deletions) == 3 and len(short) == 2 and not set(deletions) & short
    assert set(traffic.ending) == set(deletions) | short
    for story_id, position in deletions.items():
        views = [i for i, (n, r) in enumerate(log) if n == "StoryViewed"
                 and r["story_id"] == story_id]
        assert views[0] < position < views[-1]
        assert traffic.stories[story_id] == log[position][1]["actor_id"]
        expected = traffic.expected
        assert not expected.views[story_id] and not expected.viewers[story_id]
        assert expected.reaction_counts(story_id) == {}
        assert not expected.listed(story_id, NOW - timedelta(hours=2))


def test_expected_counts_every_view_and_each_viewers_latest_reaction():
    traffic = make_traffic(6, now=NOW)
    views = [r for n, r in traffic.events if n == "StoryViewed"]
    assert sum(len(v) for v in traffic.expected.views.values()) == len(views)
    story_id = views[0]["story_id"]
    reacted = [r for n, r in traffic.events if n == "StoryReacted" and r["story_id"] == story_id]
    latest = {r["actor_id"]: r["emoji"] for r in reacted}
    assert traffic.expected.reaction_counts(story_id) == dict(Counter(latest.values()))


def test_a_later_reaction_in_the_log_wins_a_tie():
    at = NOW - timedelta(minutes=5)

    def reaction(emoji):
        return ("StoryReacted", schemas.new_event("StoryReacted", "fan", occurred_at=at,
                                                  story_id="s", author_id="a", emoji=emoji))

    assert Expected.of([reaction("🔥"), reaction("😂")]).reaction_counts("s") == {"😂": 1}


@pytest.mark.parametrize("options", [
    {"expiring": 15, "deleted": 10},
    {"deleted": -1},
    {"expiring": 1, "expire_after": 0},
    {"expiring": 1, "expire_after": MIN_LIFETIME_SECONDS},
    {"expiring": 3, "expire_after": 10, "expire_every": MIN_LIFETIME_SECONDS / 4},
    {"expiring": 2, "expire_every": -1},
])
def test_impossible_requests_are_refused(options):
    with pytest.raises(ValueError):
        make_traffic(1, stories=20, views=100, now=NOW, **options)
