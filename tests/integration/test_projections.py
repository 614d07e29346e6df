"""The Redis read plans and what only the real stores show (TTLs, pub/sub, async reads).

The rules of the folds are checked on every backend by the contract suite (tests/contract).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from core.clients import is_cluster
from projections.queries import read_tray, visible_stories
from projections.stores.keys import Kind
from simulation.sample import build_scenario, by_topic


def project(projector, events, batch_size=7):
    """Feed each topic's events in batches, topics one after another, as agents would."""
    apply = {"story-lifecycle": projector.apply_lifecycle,
             "engagement": projector.apply_engagement,
             "social-graph": projector.apply_graph}
    for topic, topic_events in by_topic(events).items():
        for i in range(0, len(topic_events), batch_size):
            assert apply[topic](topic_events[i:i + batch_size]) == []


def now_ms() -> int:
    return int(time.time() * 1000)


def test_tray_story_list_counters_and_privacy(stores):
    world = build_scenario()
    projector = stores.fresh()
    project(projector, world.events)
    models = projector.redis

    tray = read_tray(models, "user-2", now_ms())
    assert [item.author_id for item in tray] == ["user-1", "user-0"]
    assert tray[0].has_unseen and not tray[1].has_unseen  # user-2 saw user-0's latest story
    assert tray[0].thumbnail_key.endswith("/thumb.jpg")
    # user-5 is not a close friend: user-0's latest visible story for them is "public".
    tray5 = read_tray(models, "user-5", now_ms())
    assert [(i.author_id, i.latest_story_id) for i in tray5] == [
        ("user-0", world.story_ids["public"])
    ]
    assert read_tray(models, "user-9", now_ms()) == []  # unfollowed

    seen_by_friend = visible_stories(models, "user-2", "user-0", now_ms())
    assert [s.story_id for s in seen_by_friend] == [world.story_ids["public"],
                                                    world.story_ids["friends"]]
    assert [s.story_id for s in visible_stories(models, "user-7", "user-0", now_ms())] == [
        world.story_ids["public"]
    ]

    counters = models.counters(world.story_ids["public"])
    assert (counters.views, counters.unique_viewers, counters.replies) == (8, 7, 1)
    assert counters.reactions == {"😂": 2}
    poll = models.counters(world.story_ids["photo"]).stickers["poll-1"]
    assert poll == {"n": 3.0, "o0": 1.0, "o1": 2.0}


def test_viewer_list_keeps_first_view_and_latest_reaction(stores):
    world = build_scenario()
    projector = stores.fresh()
    project(projector, world.events)
    public = world.story_ids["public"]
    from projections.stores.cql_store import VIEWER_BUCKETS

    entries = [e for b in range(VIEWER_BUCKETS) for e in stores.cql.viewers_page(public, b, "", 50)]
    by_viewer = {viewer: (at, reaction) for viewer, at, reaction in entries}
    assert len(by_viewer) == 7
    first_view = world.at(11)
    first_view = first_view.replace(microsecond=first_view.microsecond // 1000 * 1000)
    assert by_viewer["user-2"] == (first_view, "😂")








def test_views_in_one_batch_count_once_expire_with_the_story_and_notify_new_viewers(stores):
    """A batch's views of a story go out together: re-views and a redelivered batch add
    nothing, the counters and seen sets expire, and only first views reach the live feed."""
    import schemas
    from projections.stores.redis_store import SEEN_TTL_MS

    projector = stores.fresh()
    projector.live_feed = True
    models = projector.redis
    posted = datetime.now(UTC) - timedelta(minutes=5)
    story_id = str(uuid.uuid4())
    post = schemas.new_event("StoryPosted", "author", occurred_at=posted, story_id=story_id,
                             kind="TEXT", text="hi")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []

    def view(viewer: str, minute: int):
        return ("StoryViewed", schemas.new_event(
            "StoryViewed", viewer, occurred_at=posted + timedelta(minutes=minute),
            story_id=story_id, author_id="author"))

    live = models.client.pubsub()
    live.ssubscribe(models.live_channel(story_id))  # a sharded channel, as the gateway follows it
    read = live.get_sharded_message if is_cluster(live) else live.get_message
    read(timeout=1)  # the subscription itself
    batch = [view("ann", 1), view("bob", 1), view("ann", 2), view("cat", 3)]
    assert projector.apply_engagement(batch) == []
    assert projector.apply_engagement(batch) == []  # redelivered after a crash
    later = [view("bob", 4), view("dan", 4)]
    assert projector.apply_engagement(later) == []

    counters = models.counters(story_id)
    assert (counters.views, counters.unique_viewers) == (6, 4)
    story_end = int((posted + timedelta(hours=24)).timestamp() * 1000)
    for kind in (Kind.VIEW_EVENTS, Kind.VIEWERS):
        left = models.client.pexpiretime(models.k(kind, story_id))
        assert left == story_end + projector.policy.insights_ms
    assert 0 < models.client.pttl(models.k(Kind.SEEN, "ann")) <= SEEN_TTL_MS
    assert models.client.smembers(models.k(Kind.SEEN, "dan")) == {story_id.encode()}

    notified = []
    while (message := read(timeout=1)) is not None:
        notified += [note["user_id"] for note in orjson.loads(message["data"])]
    live.close()
    assert notified == ["ann", "bob", "cat", "dan"]


def test_a_deletion_and_an_expiry_each_end_their_storys_live_feed_once(stores):
    """The running worker tells the story's sharded channel, where the gateway listens, that
    the story ended; a story still live hears nothing."""
    import schemas

    projector = stores.fresh()
    projector.live_feed = True
    models = projector.redis
    posts = [schemas.new_event("StoryPosted", "author", story_id=str(uuid.uuid4()), kind="TEXT",
                               text="hi") for _ in range(3)]
    gone, lapsed, kept = (post["story_id"] for post in posts)
    assert projector.apply_lifecycle([("StoryPosted", post) for post in posts]) == []

    live = models.client.pubsub()
    for story_id in (gone, lapsed, kept):
        live.ssubscribe(models.live_channel(story_id))
    read = live.get_sharded_message if is_cluster(live) else live.get_message
    ends = [("StoryDeleted", schemas.new_event("StoryDeleted", "author", story_id=gone)),
            ("StoryExpired", schemas.new_event("StoryExpired", "system", story_id=lapsed,
                                               author_id="author",
                                               expires_at=posts[1]["expires_at"]))]
    assert projector.apply_lifecycle(ends) == []

    heard: list[tuple[str, list]] = []
    while (message := read(timeout=1)) is not None:
        if message["type"] in ("message", "smessage"):
            heard.append((message["channel"].decode(), orjson.loads(message["data"])))
    live.close()
    assert sorted(heard) == sorted(
        (models.live_channel(story_id), [{"type": "ended", "story_id": story_id}])
        for story_id in (gone, lapsed))


def test_the_event_loop_reads_the_same_trays_and_story_lists(stores, local_stack):
    """The gateway reads with redis.asyncio; it must see exactly what the sync reads see."""
    import asyncio

    from core.clients import redis_async_client
    from projections.queries import read_tray_async, visible_stories_async

    world = build_scenario()
    projector = stores.fresh()
    project(projector, world.events)
    models, now = projector.redis, now_ms()
    users = [f"user-{i}" for i in range(10)]

    async def read_all():
        client = redis_async_client(local_stack)
        try:
            trays = [(await read_tray_async(models, client, u, now, frozenset({"user-1"}))).items
                     for u in users]
            lists = [await visible_stories_async(models, client, u, "user-0", now) for u in users]
            return trays, lists
        finally:
            await client.aclose()

    trays, lists = asyncio.run(read_all())
    assert trays == [read_tray(models, u, now, frozenset({"user-1"})) for u in users]
    assert lists == [visible_stories(models, u, "user-0", now) for u in users]
    assert any(trays) and any(lists)
    assert trays[2][-1].author_id == "user-1" and trays[2][-1].muted  # muted authors come last


def test_an_author_who_drops_to_the_threshold_stays_in_every_followers_tray(stores):
    """Above the threshold an author is pulled at read time; back at it, every follower
    (old ones included) must have the entry pushed, or their stories vanish from trays."""
    import schemas

    projector = stores.fresh(fanout_threshold=3)
    models = projector.redis
    fans = [f"fan-{i}" for i in range(6)]

    def graph(name: str, follower: str):
        return (name, schemas.new_event(name, follower, followee_id="star"))

    assert projector.apply_graph([graph("UserFollowed", f) for f in fans[:4]]) == []
    post = schemas.new_event("StoryPosted", "star", story_id=str(uuid.uuid4()), kind="TEXT",
                             text="hello")
    assert projector.apply_lifecycle([("StoryPosted", post)]) == []
    assert models.client.sismember(models.k(Kind.CELEBRITIES), "star")  # 4 followers > 3: pulled

    assert projector.apply_graph([graph("UserUnfollowed", f) for f in fans[2:4]]) == []
    assert projector.apply_graph([graph("UserFollowed", fans[4])]) == []  # 3 followers now
    assert not models.client.sismember(models.k(Kind.CELEBRITIES), "star")

    for fan in (fans[0], fans[1], fans[4]):
        assert [i.latest_story_id for i in read_tray(models, fan, now_ms())] == [
            post["story_id"]], fan
    for fan in (fans[2], fans[3], fans[5]):
        assert read_tray(models, fan, now_ms()) == [], fan
