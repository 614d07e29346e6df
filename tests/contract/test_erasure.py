"""Account erasure on every store backend: the user leaves every read model, the numbers of
other people's stories stay, late events about them are dropped, and a replay agrees.

A store that does not implement its part of the erasure fails here: these tests run against
every backend of `tests/contract/conftest.py`, like the rest of the contract suite."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import schemas
from projections.projector import Projector
from projections.stores.redis_batch import pseudonym
from tests.contract.backends import Backend, dump
from tests.contract.test_live_equals_replay import POLL, Run, replay

GONE = "erased-ann"  # an id no other id contains, so a dump can be searched for it
QUESTION = {"sticker_id": "ask-1", "kind": "QUESTION", "prompt": "Anything?", "options": [],
            "correct_option": None, "emoji": None}


def erase(run: Run, user: str = GONE, **fields) -> dict:
    return run.emit("UserErased", user, requested_by="SELF", **fields)


def names_anywhere(projector: Projector, user: str) -> list[str]:
    """Each part of the stores' state whose dump mentions the user's id."""
    state = dump(projector)
    return [f"{store}.{part}" for store, parts in state.items()
            for part, value in parts.items() if user in repr(value)]


def active_life(run: Run) -> dict[str, str]:
    """The user posts, follows and is followed, lists a friend and is listed by bob, highlights,
    and engages with bob's stories (a view, a reaction, a poll vote, a written answer); fans
    engage with theirs."""
    for fan in ("fan-1", "fan-2"):
        run.emit("UserFollowed", fan, followee_id=GONE)
    run.emit("UserFollowed", GONE, followee_id="bob")
    run.emit("UserFollowed", "fan-1", followee_id="bob")
    run.emit("CloseFriendsChanged", GONE, close_friend_ids=["fan-1"])
    run.emit("CloseFriendsChanged", "bob", close_friend_ids=[GONE, "fan-1"])
    ended = run.post(GONE, 1, kind="TEXT", text="soon ended")
    live = run.post(GONE, 3000, kind="TEXT", text="still live")
    highlight = str(uuid.uuid4())
    run.emit("HighlightCreated", GONE, highlight_id=highlight, title="Mine", story_ids=[live])
    bobs = run.post("bob", 3000, kind="TEXT", text="bob's", stickers=[POLL, QUESTION])
    for viewer in (GONE, "fan-1"):
        run.emit("StoryViewed", viewer, story_id=bobs, author_id="bob")
    run.emit("StoryReacted", GONE, story_id=bobs, author_id="bob", emoji="🔥")
    run.emit("StickerAnswered", GONE, story_id=bobs, author_id="bob", sticker_id="poll-1",
             option_index=0)
    run.emit("StickerAnswered", GONE, story_id=bobs, author_id="bob", sticker_id="ask-1",
             text="mine to erase")
    run.emit("StoryViewed", "fan-1", story_id=live, author_id=GONE)
    run.emit("StoryReacted", "fan-2", story_id=live, author_id=GONE, emoji="😂")
    time.sleep(1.2)
    run.expire(ended, GONE)
    return {"ended": ended, "live": live, "bobs": bobs, "highlight": highlight}


def test_an_erasure_drops_the_user_from_every_read_model(backend: Backend):
    run = Run(backend.projector())
    ids = active_life(run)
    projector = run.projector
    before = projector.redis.counters(ids["bobs"])
    assert names_anywhere(projector, GONE)  # the scenario does put the user everywhere
    erased = erase(run)
    assert names_anywhere(projector, GONE) == []
    after = projector.redis.counters(ids["bobs"])
    assert after == before  # bob's numbers keep the erased user's engagement
    assert (after.views, after.unique_viewers, after.reactions) == (2, 2, {"🔥": 1})
    assert after.stickers["poll-1"] == {"n": 1.0, "o0": 1.0}
    at = int(erased["occurred_at"].timestamp() * 1000)
    assert projector.redis.erased([GONE, "bob"]) == {GONE: at}
    marks = projector.redis.marks([ids["bobs"], ids["live"]], [ids["bobs"]], [GONE, "bob"])
    assert (marks.refs[ids["bobs"]].author_id, marks.refs[ids["live"]]) == ("bob", None)
    assert (marks.deleted, marks.erased) == (set(), {GONE: at})
    for story_id in (ids["ended"], ids["live"]):
        assert projector.redis.insights_owner(story_id) is None
        assert projector.redis.counters(story_id).views == 0
    assert projector.redis.followers_of(["bob"]) == {"bob": {"fan-1"}}
    state = dump(projector)
    assert state["active"]["close_friends"]["bob"] == {"fan-1"}  # bob's list, without the user
    assert state["record"]["close_friends"]["bob"][0] == ("fan-1",)
    assert projector.cql.highlights_of(GONE) == []


def test_an_erasure_applied_twice_changes_nothing(backend: Backend):
    run = Run(backend.projector())
    active_life(run)
    first = erase(run)
    once = dump(run.projector)
    run.emit("UserErased", GONE, requested_by="SUPPORT")  # support asks again, later
    run.projector.apply_graph([("UserErased", first)])  # the first one, redelivered
    assert dump(run.projector) == once


def test_late_events_by_or_about_an_erased_user_are_dropped(backend: Backend):
    run = Run(backend.projector())
    ids = active_life(run)
    erase(run)
    settled = dump(run.projector)
    run.emit("StoryViewed", GONE, story_id=ids["bobs"], author_id="bob")
    run.emit("StoryReacted", GONE, story_id=ids["bobs"], author_id="bob", emoji="😍")
    run.post(GONE, 3000, kind="TEXT", text="posted after the erasure")
    run.emit("UserFollowed", "fan-2", followee_id=GONE)
    run.emit("UserFollowed", GONE, followee_id="fan-2")
    run.emit("CloseFriendsChanged", GONE, close_friend_ids=["fan-2"])
    run.emit("HighlightCreated", GONE, highlight_id=str(uuid.uuid4()), title="Again",
             story_ids=[ids["live"]])
    run.emit("StoryViewed", "fan-2", story_id=ids["live"], author_id=GONE)
    now = dump(run.projector)
    # fan-2 watched it (their seen set is theirs); nothing else changed
    seen = now["active"].pop("seen")
    assert seen.pop("fan-2") == {ids["live"]}
    assert seen == settled["active"].pop("seen")
    assert now == settled
    assert names_anywhere(run.projector, GONE) == []


def test_engagement_from_before_the_erasure_read_after_it_counts_without_the_user(
        backend: Backend):
    """A view made before the erasure and delivered after it: the number, never the viewer."""
    run = Run(backend.projector())
    bobs = run.post("bob", 3000, kind="TEXT", text="bob's")
    viewed = datetime.now(UTC) - timedelta(seconds=30)
    erase(run, occurred_at=viewed + timedelta(seconds=10))
    late = schemas.new_event("StoryViewed", GONE, occurred_at=viewed, story_id=bobs,
                             author_id="bob")
    assert run.projector.apply_engagement([("StoryViewed", late)]) == []
    assert run.projector.redis.counters(bobs).unique_viewers == 1
    assert names_anywhere(run.projector, GONE) == []


def test_a_replay_of_a_log_with_an_erasure_builds_what_the_live_run_left(backend: Backend):
    run = Run(backend.projector())
    ids = active_life(run)
    early = schemas.new_event("StoryViewed", GONE, story_id=str(uuid.uuid4()), author_id="bob")
    erase(run)
    run.emit("StoryViewed", GONE, story_id=ids["bobs"], author_id="bob")  # late: dropped
    run.emit("UserFollowed", "fan-2", followee_id=GONE)  # late: dropped
    run.emit("CloseFriendsChanged", "fan-2", close_friend_ids=[GONE, "bob"])  # without the user
    run.log.append(("StoryViewed", early))  # made before, delivered after: counted, unnamed
    assert run.projector.apply_engagement([("StoryViewed", early)]) == []
    rebuilt = backend.projector()
    replay(rebuilt, run.log)
    assert dump(rebuilt) == dump(run.projector)
    assert names_anywhere(rebuilt, GONE) == []


def test_the_erasure_index_gives_the_gateway_each_erasure_by_its_keyed_hash(backend: Backend):
    """What the gateway reads to refuse tokens: erasures since an instant, never the id."""
    run = Run(backend.projector())
    first = erase(run)
    second = erase(run, "erased-bob", occurred_at=first["occurred_at"] + timedelta(seconds=5))
    erase(run, occurred_at=second["occurred_at"] + timedelta(seconds=5))  # again: changes nothing
    first_at, second_at = (int(e["occurred_at"].timestamp() * 1000) for e in (first, second))
    hashed = {u: pseudonym(run.projector.redis.secret, u).hex() for u in (GONE, "erased-bob")}
    redis = run.projector.redis
    assert redis.erased_since(first_at) == {hashed[GONE]: first_at,
                                            hashed["erased-bob"]: second_at}
    assert redis.erased_since(first_at + 1) == {hashed["erased-bob"]: second_at}
    assert redis.erased_since(second_at + 1) == {}
    assert names_anywhere(run.projector, "erased-bob") == []
