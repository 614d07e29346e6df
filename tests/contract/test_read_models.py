"""The read models the folds build, checked the same way on every store backend."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import schemas
from core.clock import to_ms
from projections.folds import lifecycle
from projections.projector import Projector
from projections.stores.redis_batch import TRAY_SCRIPT_VIEWERS
from simulation.sample import build_scenario, by_topic
from tests.contract.backends import Backend, dump

APPLY = {"story-lifecycle": Projector.apply_lifecycle, "engagement": Projector.apply_engagement,
         "social-graph": Projector.apply_graph, "highlights": Projector.apply_highlights}


def project(projector: Projector, events, batch_size: int = 7) -> None:
    """Feed each topic's events in batches, topics one after another, as agents would."""
    for topic, topic_events in by_topic(events).items():
        for i in range(0, len(topic_events), batch_size):
            assert APPLY[topic](projector, topic_events[i:i + batch_size]) == []


def now_ms() -> int:
    return int(time.time() * 1000)


def tray_of(projector: Projector, viewer: str) -> dict[str, str]:
    """The viewer's pushed tray: author -> latest story id, live entries only."""
    entries = dump(projector)["active"].get("trays", {}).get(viewer, {})
    return {a: e.latest_story_id for a, e in entries.items() if e.expires_at > now_ms()}


def test_trays_counters_and_privacy(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    ids = world.story_ids
    assert tray_of(projector, "user-2") == {"user-0": ids["friends"], "user-1": ids["photo"]}
    # user-5 is not a close friend: user-0's latest story visible to them is "public".
    assert tray_of(projector, "user-5") == {"user-0": ids["public"]}
    assert tray_of(projector, "user-9") == {}  # unfollowed
    counters = projector.redis.counters(ids["public"])
    assert (counters.views, counters.unique_viewers, counters.replies) == (8, 7, 1)
    assert counters.reactions == {"😂": 2}
    assert projector.redis.counters(ids["photo"]).stickers["poll-1"] == {"n": 3.0, "o0": 1.0,
                                                                        "o1": 2.0}


def test_viewer_list_keeps_first_view_and_latest_reaction(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    viewers = dump(projector)["record"]["viewers"][world.story_ids["public"]]
    assert len(viewers) == 7
    first_view = int(world.at(11).timestamp() * 1000)
    assert viewers["user-2"][:2] == (first_view, "😂")


def test_a_deleted_story_is_gone_everywhere_and_stays_gone(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    doomed = world.story_ids["doomed"]
    project(projector, world.events)  # the whole log again, as after a crash
    state = dump(projector)
    assert doomed in state["active"]["deleted"]
    assert doomed not in state["record"].get("stories", {})
    assert doomed not in state["record"].get("viewers", {})
    assert all(doomed not in stories for stories in state["active"]["stories"].values())
    assert projector.redis.counters(doomed).views == 0
    assert projector.redis.insights_owner(doomed) is None


def test_processing_any_prefix_twice_leaves_the_same_state(backend: Backend):
    world = build_scenario()
    once = backend.projector()
    project(once, world.events)
    twice = backend.projector()
    cut = len(world.events) * 2 // 3
    project(twice, world.events[:cut], batch_size=5)
    project(twice, world.events, batch_size=3)
    assert dump(once) == dump(twice)


def test_a_view_before_its_post_counts_the_same(backend: Backend):
    world = build_scenario()
    in_order = backend.projector()
    project(in_order, world.events)
    views_first = backend.projector()
    split = by_topic(world.events)
    views_first.apply_engagement(split["engagement"])
    views_first.apply_graph(split["social-graph"])
    views_first.apply_lifecycle(split["story-lifecycle"])
    for label in ("public", "photo"):
        story_id = world.story_ids[label]
        assert in_order.redis.counters(story_id) == views_first.redis.counters(story_id)
    assert tray_of(views_first, "user-5") == tray_of(in_order, "user-5")


def _expired(story_id: str, author_id: str, expires_at: datetime) -> tuple[str, dict]:
    return ("StoryExpired", schemas.new_event("StoryExpired", actor_id="system",
                                              story_id=story_id, author_id=author_id,
                                              expires_at=expires_at))


def _by_owner(name: str, minutes_from_now: float, **fields) -> tuple[str, dict]:
    return (name, schemas.new_event(
        name, actor_id="user-0",
        occurred_at=datetime.now(UTC) + timedelta(minutes=minutes_from_now), **fields))


def test_expiry_removes_the_story_but_keeps_its_insights(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    public = world.story_ids["public"]
    a_day_later = backend.projector(like=projector, clock=lambda: time.time() + 86_400)
    a_day_later.apply_lifecycle([_expired(public, "user-0", world.at(5) + timedelta(hours=24))])
    state = dump(projector)
    assert public not in state["active"]["stories"].get("user-0", {})
    assert public not in state["record"].get("stories", {})
    assert public not in state["record"].get("viewers", {})  # identities go with the story
    assert projector.redis.counters(public).unique_viewers == 7  # counts outlive it
    assert projector.redis.insights_owner(public) == "user-0"


def test_a_highlight_keeps_a_story_past_expiry_until_the_last_one_lets_go(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    public, friends = world.story_ids["public"], world.story_ids["friends"]
    h1, h2 = str(uuid.uuid4()), str(uuid.uuid4())
    projector.apply_highlights([
        _by_owner("HighlightCreated", -1, highlight_id=h1, title="Best", story_ids=[public]),
        _by_owner("HighlightCreated", -1, highlight_id=h2, title="More",
                  story_ids=[public, friends]),
    ])
    assert dump(projector)["record"]["highlight_members"][public] == {h1, h2}
    later = backend.projector(like=projector, clock=lambda: time.time() + 30 * 3600)
    later.apply_lifecycle([_expired(public, "user-0", world.at(5) + timedelta(days=1))])
    assert public in projector.cql.kept_stories([public])

    projector.apply_highlights([_by_owner("HighlightStoryRemoved", 0, highlight_id=h1,
                                          story_id=public)])
    assert public in projector.cql.kept_stories([public])  # still held by h2
    projector.apply_highlights([_by_owner("HighlightDeleted", 1, highlight_id=h2)])
    assert projector.cql.kept_stories([public]) == {}
    assert projector.cql.highlights([("user-0", h2)]) == {("user-0", h2): None}
    assert projector.cql.highlights([("user-0", h1)])[("user-0", h1)].story_ids == ()


def test_edits_of_one_highlight_in_one_batch_end_as_the_last_one_says(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    public, friends = world.story_ids["public"], world.story_ids["friends"]
    h1 = str(uuid.uuid4())
    projector.apply_highlights([
        _by_owner("HighlightCreated", -3, highlight_id=h1, title="Best", story_ids=[public]),
        _by_owner("HighlightStoryAdded", -2, highlight_id=h1, story_id=friends),
        _by_owner("HighlightUpdated", -1, highlight_id=h1, title="Top", story_ids=[friends]),
        _by_owner("HighlightStoryRemoved", 0, highlight_id=h1, story_id=public),
    ])
    highlight = projector.cql.highlights([("user-0", h1)])[("user-0", h1)]
    assert (highlight.title, highlight.story_ids) == ("Top", (friends,))
    members = dump(projector)["record"]["highlight_members"]
    assert members == {friends: {h1}}


def test_deleting_a_story_takes_it_out_of_its_highlights(backend: Backend):
    world = build_scenario()
    projector = backend.projector()
    project(projector, world.events)
    public = world.story_ids["public"]
    h1 = str(uuid.uuid4())
    projector.apply_highlights([_by_owner("HighlightCreated", -1, highlight_id=h1, title="Best",
                                          story_ids=[public])])
    projector.apply_lifecycle([_by_owner("StoryDeleted", 0, story_id=public)])
    assert projector.cql.highlights([("user-0", h1)])[("user-0", h1)].story_ids == ()
    assert projector.cql.highlight_ids_holding_each([public]) == {public: set()}
    assert projector.cql.kept_stories([public]) == {}


def test_views_count_once_per_event_and_per_viewer_and_report_first_viewers(backend: Backend):
    projector = backend.projector()
    posted = datetime.now(UTC) - timedelta(minutes=5)
    story_id = str(uuid.uuid4())
    post = schemas.new_event("StoryPosted", "author", occurred_at=posted, story_id=story_id,
                             kind="TEXT", text="hi")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []

    def view(viewer: str, minute: int) -> tuple[str, dict]:
        return ("StoryViewed", schemas.new_event(
            "StoryViewed", viewer, occurred_at=posted + timedelta(minutes=minute),
            story_id=story_id, author_id="author"))

    batch = [view("ann", 1), view("bob", 1), view("ann", 2), view("cat", 3)]
    writes = projector.redis.batch()
    from projections.folds import engagement

    snapshot = engagement.EngagementSnapshot(projector.redis.story_refs([story_id]), set())
    folded = engagement.fold_engagement(batch, snapshot, now_ms(), projector.policy)
    folded.writes.replay_onto(writes, projector.cql.batch())
    first_time = writes.flush()
    assert [n["user_id"] for n in first_time] == ["ann", "bob", "cat"]
    assert projector.apply_engagement(batch) == []  # redelivered after a crash
    assert projector.apply_engagement([view("bob", 4), view("dan", 4)]) == []
    counters = projector.redis.counters(story_id)
    assert (counters.views, counters.unique_viewers) == (6, 4)
    assert dump(projector)["active"]["seen"]["dan"] == {story_id}


def test_an_author_who_drops_to_the_threshold_stays_in_every_followers_tray(backend: Backend):
    projector = backend.projector(fanout_threshold=3)
    fans = [f"fan-{i}" for i in range(6)]

    def graph(name: str, follower: str) -> tuple[str, dict]:
        return (name, schemas.new_event(name, follower, followee_id="star"))

    assert projector.apply_graph([graph("UserFollowed", f) for f in fans[:4]]) == []
    post = schemas.new_event("StoryPosted", "star", story_id=str(uuid.uuid4()), kind="TEXT",
                             text="hello")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []
    assert "star" in dump(projector)["active"]["celebrities"]  # 4 followers > 3: pulled
    assert projector.apply_graph([graph("UserUnfollowed", f) for f in fans[2:4]]) == []
    assert projector.apply_graph([graph("UserFollowed", fans[4])]) == []  # 3 followers now
    assert "star" not in dump(projector)["active"].get("celebrities", set())
    for fan in (fans[0], fans[1], fans[4]):
        assert tray_of(projector, fan) == {"star": post["story_id"]}, fan
    for fan in (fans[2], fans[3], fans[5]):
        assert tray_of(projector, fan) == {}, fan


def test_a_fan_out_computed_before_a_newer_change_never_overwrites_it(backend: Backend):
    """Two stories of one author can be folded at once by two workers (a story's events share a
    partition, an author's stories do not): a fan-out of what one read before the other's change,
    written after it, must neither hide the newer story nor bring back a deleted one."""
    projector = backend.projector()
    follow = schemas.new_event("UserFollowed", "fan", followee_id="author")
    assert projector.apply_graph([("UserFollowed", follow)]) == []

    def post(minutes_ago: int) -> tuple[str, dict]:
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        return ("StoryPosted", schemas.new_event("StoryPosted", "author", occurred_at=at,
                                                 kind="TEXT", text="x", story_id=str(uuid.uuid4())))

    def write_late(states) -> None:
        projector.flush(lifecycle.fold_tray_fanout(states, {"author": {"fan"}}, now_ms(),
                                                   projector.policy))

    first, second = post(5), post(1)
    assert projector.apply_lifecycle([first]) == []
    read_by_the_slower_worker = projector.redis.authors_states(["author"])
    assert projector.apply_lifecycle([second]) == []
    newer = projector.redis.authors_states(["author"])
    assert newer["author"].version > read_by_the_slower_worker["author"].version
    write_late(read_by_the_slower_worker)
    assert tray_of(projector, "fan") == {"author": second[1]["story_id"]}

    with_both = projector.redis.authors_states(["author"])
    for _, record in (first, second):
        deleted = schemas.new_event("StoryDeleted", "author", story_id=record["story_id"])
        assert projector.apply_lifecycle([("StoryDeleted", deleted)]) == []
    assert tray_of(projector, "fan") == {}
    write_late(with_both)
    assert tray_of(projector, "fan") == {}
    assert projector.apply_lifecycle([first]) == []  # redelivered: the deletion still wins
    assert tray_of(projector, "fan") == {}


def test_a_post_reaches_every_tray_of_a_large_audience(backend: Backend):
    """More followers than one tray script call takes: every one of them gets the entry."""
    projector = backend.projector()
    fans = [f"fan-{i}" for i in range(2 * TRAY_SCRIPT_VIEWERS + 1)]
    assert projector.apply_graph([("UserFollowed", schemas.new_event(
        "UserFollowed", fan, followee_id="popular")) for fan in fans]) == []
    post = schemas.new_event("StoryPosted", "popular", story_id=str(uuid.uuid4()), kind="TEXT",
                             text="to all")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []
    trays = dump(projector)["active"]["trays"]
    assert {fan for fan in fans if "popular" in trays.get(fan, {})} == set(fans)


def test_the_author_of_a_story_is_the_only_one_who_may_delete_it(backend: Backend):
    projector = backend.projector()
    story_id = str(uuid.uuid4())
    post = schemas.new_event("StoryPosted", "author", story_id=story_id, kind="TEXT", text="x")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []
    forged = schemas.new_event("StoryDeleted", "mallory", story_id=story_id)
    rejected = projector.apply_lifecycle([("StoryDeleted", forged)])
    assert rejected == [(0, f"actor_id: mallory is not the author of {story_id}")]
    assert story_id in dump(projector)["active"]["stories"]["author"]


def test_a_story_is_due_from_its_partitions_index_only_until_it_ends(backend: Backend):
    projector = backend.projector()
    posts = [_by_owner("StoryPosted", -minutes, story_id=str(uuid.uuid4()), kind="TEXT",
                       text="x", lifetime_seconds=3600) for minutes in (50, 45, 40)]
    first, deleted, last = (record["story_id"] for _, record in posts)
    assert projector.apply_lifecycle(posts, [2, 5, 2]) == []
    in_20_min = now_ms() + 20 * 60_000

    def due(partitions, at: int = in_20_min, limit: int = 10) -> list[tuple[str, int | None]]:
        return [(d.story_id, d.partition) for d in projector.redis.due_expiries(partitions, at,
                                                                                limit)]

    assert due([2]) == [(first, 2), (last, 2)]  # earliest first
    assert due([2], limit=1) == [(first, 2)]
    assert due([5]) == [(deleted, 5)]
    assert due([0, 1, 3, 4, None]) == []  # no other partition, nor the old single index
    assert due([2, 5], at=now_ms()) == []  # none has ended yet
    backlog = projector.redis.expiry_backlog
    assert (backlog([2], in_20_min), backlog([2, 5, None], in_20_min)) == (2, 3)  # uncapped
    assert backlog([2, 5], now_ms()) == backlog([0, 1], in_20_min) == backlog([], in_20_min) == 0

    a_day_later = backend.projector(like=projector, clock=lambda: time.time() + 86_400)
    expired = _expired(first, "user-0", posts[0][1]["expires_at"])
    assert a_day_later.apply_lifecycle([expired], [2]) == []
    assert projector.apply_lifecycle([_by_owner("StoryDeleted", 0, story_id=deleted)], [5]) == []
    assert due(range(6)) == [(last, 2)]
    assert backlog(range(6), in_20_min) == 1
    after = projector.redis.next_expiry
    last_expires = to_ms(posts[2][1]["expires_at"])
    assert after([2, 5], now_ms()) == after(range(6), now_ms()) == last_expires  # the earliest
    assert after([2], last_expires) is None  # strictly later only
    assert after([0, 1, None], now_ms()) is None and after([], now_ms()) is None
    index = dump(projector)["active"]["expiry_index"]
    assert list(index) == [2] and list(index[2]) == [(last, "user-0")]
