"""Live read models equal a replay of the log, on every backend, with stories that expire and
are deleted during the run, highlights and insights; and the backends agree with each other."""

from __future__ import annotations

import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta

import pytest

import schemas
from projections.projector import Projector
from projections.replay import REPLAY_ORDER
from simulation.sample import build_scenario, by_topic
from streams.topics import key_of, topic_for
from tests.contract.backends import Backend, MemoryBackend, dump
from tests.contract.test_read_models import APPLY

LIFETIME_S = 3600  # the shortest lifetime the schema allows; posts are back-dated to end soon
PARTITIONS = 6


def partition_of(event: tuple[str, dict]) -> int:
    """The partition the log keeps an event on: its key's hash over the topic's partitions."""
    return zlib.crc32(key_of(*event)) % PARTITIONS


def replay(projector: Projector, events) -> None:
    """What `stories replay` does: each topic from its start, in the replay order, each event
    with the partition it is read from."""
    topics = by_topic(events)
    for topic in REPLAY_ORDER:
        if topic in topics:
            partitions = [partition_of(event) for event in topics[topic]]
            assert APPLY[topic](projector, topics[topic], partitions) == []


class Run:
    """A short live run: events are folded as they happen and kept as the log."""

    def __init__(self, projector: Projector):
        self.projector = projector
        self.log: list[tuple[str, dict]] = []

    def emit(self, name: str, actor: str, **fields) -> dict:
        record = schemas.new_event(name, actor, **fields)
        event = (name, record)
        self.log.append(event)
        topic = schemas_topic(name)
        assert APPLY[topic](self.projector, [event], [partition_of(event)]) == []
        return record

    def post(self, author: str, ends_in_s: float, **fields) -> str:
        """A story posted long enough ago that it expires `ends_in_s` from now."""
        story_id = str(uuid.uuid4())
        posted = datetime.now(UTC) - timedelta(seconds=LIFETIME_S - ends_in_s)
        self.emit("StoryPosted", author, occurred_at=posted, story_id=story_id,
                  lifetime_seconds=LIFETIME_S, **fields)
        return story_id

    def expire(self, story_id: str, author: str) -> None:
        record = next(r for n, r in self.log if n == "StoryPosted" and r["story_id"] == story_id)
        self.emit("StoryExpired", "system", story_id=story_id, author_id=author,
                  expires_at=record["expires_at"])


def schemas_topic(name: str) -> str:
    return topic_for(name).suffix


POLL = {"sticker_id": "poll-1", "kind": "POLL", "prompt": "Tea or coffee?",
        "options": ["tea", "coffee"], "correct_option": None, "emoji": None}


def live_run(projector: Projector) -> Run:
    """Follows, stories that expire, one deleted, one highlighted, engagement before and after."""
    run = Run(projector)
    for fan in ("fan-1", "fan-2", "fan-3"):
        run.emit("UserFollowed", fan, followee_id="ann")
    run.emit("CloseFriendsChanged", "ann", close_friend_ids=["fan-1"])
    short = run.post("ann", 2, kind="TEXT", text="soon gone", stickers=[POLL])
    kept = run.post("ann", 2, kind="TEXT", text="kept in a highlight")
    doomed = run.post("ann", 600, kind="TEXT", text="deleted")
    stays = run.post("ann", 3000, kind="TEXT", text="for friends",
                     audience={"mode": "CLOSE_FRIENDS", "user_ids": ["fan-1"]})
    highlight = str(uuid.uuid4())
    run.emit("HighlightCreated", "ann", highlight_id=highlight, title="Best", story_ids=[kept])
    for fan in ("fan-1", "fan-2"):
        for story_id in (short, doomed, stays):
            run.emit("StoryViewed", fan, story_id=story_id, author_id="ann")
    run.emit("StoryReacted", "fan-1", story_id=short, author_id="ann", emoji="🔥")
    run.emit("StickerAnswered", "fan-2", story_id=short, author_id="ann", sticker_id="poll-1",
             option_index=1)
    run.emit("StoryDeleted", "ann", story_id=doomed)
    run.emit("StoryViewed", "fan-3", story_id=doomed, author_id="ann")  # late: dropped
    time.sleep(2.5)  # the two short stories end
    run.expire(short, "ann")
    run.expire(kept, "ann")
    run.emit("StoryViewed", "fan-3", story_id=short, author_id="ann")  # counted for insights
    run.emit("UserUnfollowed", "fan-2", followee_id="ann")
    return run


def test_a_replay_rebuilds_what_the_live_run_built(backend: Backend):
    live = backend.projector()
    run = live_run(live)
    rebuilt = backend.projector()
    replay(rebuilt, run.log)
    assert dump(rebuilt) == dump(live)
    stays = [e for e in run.log if e[0] == "StoryPosted"][-1]  # the one story not ended
    index = dump(live)["active"]["expiry_index"]
    assert list(index) == [partition_of(stays)]
    assert list(index[partition_of(stays)]) == [(stays[1]["story_id"], "ann")]
    short = next(r["story_id"] for n, r in run.log if n == "StoryPosted")
    assert rebuilt.redis.insights_owner(short) == "ann"  # insights outlive the story
    assert rebuilt.redis.counters(short).stickers == {"poll-1": {"n": 1.0, "o1": 1.0}}


def test_a_replay_after_expiry_keeps_insights_for_their_window(backend: Backend):
    """The author still reads the insights of a story that expired before the replay."""
    world = build_scenario()
    live = backend.projector()
    for topic in ("social-graph", "story-lifecycle", "engagement"):
        APPLY[topic](live, by_topic(world.events)[topic])
    public = world.story_ids["public"]
    a_day_later = lambda: time.time() + 86_400  # noqa: E731
    expired = ("StoryExpired", schemas.new_event(
        "StoryExpired", "system", story_id=public, author_id="user-0",
        expires_at=world.at(5) + timedelta(hours=24)))
    backend.projector(like=live, clock=a_day_later).apply_lifecycle([expired])
    rebuilt = backend.projector(clock=a_day_later)
    replay(rebuilt, [*world.events, expired])
    assert rebuilt.redis.insights_owner(public) == "user-0"
    assert rebuilt.redis.counters(public) == live.redis.counters(public)


@pytest.mark.parametrize("backend", ["redis+cql"], indirect=True)
def test_every_backend_builds_the_same_state(backend: Backend):
    """The same log folded into memory and into the real stores dumps to the same state."""
    world = build_scenario()
    real, memory = backend.projector(), MemoryBackend().projector()
    for projector in (real, memory):
        replay(projector, world.events)
    assert dump(memory) == dump(real)
