"""The erasure fold and rules, pure: what a UserErased writes, which later events are dropped or
counted without their user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from core.clock import to_ms
from projections.folds.engagement import EngagementSnapshot, fold_engagement
from projections.folds.erasure import (
    ErasureSnapshot,
    anonymous,
    dropped,
    fold_erasure,
    segments,
)
from projections.folds.highlights import Highlight
from projections.folds.policy import ProjectionPolicy
from projections.model import Story
from projections.stores.base import UserTraces

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ERASED = {"gone": to_ms(T0)}
S1, S2, H1 = (str(uuid.uuid4()) for _ in range(3))


def record(actor: str, minutes: int = 0, **fields) -> dict:
    return {"actor_id": actor, "occurred_at": T0 + timedelta(minutes=minutes), **fields}


def calls(writes, side: str) -> list[tuple]:
    return [(c.method, *c.args) for c in getattr(writes, f"{side}_calls")]


def test_events_by_or_about_an_erased_user_are_dropped():
    assert dropped("StoryPosted", record("gone", -5), ERASED)
    assert dropped("UserFollowed", record("fan", 5, followee_id="gone"), ERASED)
    assert dropped("UserFollowed", record("gone", -5, followee_id="fan"), ERASED)
    assert dropped("StoryViewed", record("fan", -5, author_id="gone"), ERASED)
    assert dropped("StoryViewed", record("gone", 0, author_id="bob"), ERASED)  # at the instant
    assert dropped("HighlightCreated", record("gone", -5), ERASED)
    assert not dropped("StoryViewed", record("gone", -1, author_id="bob"), ERASED)
    assert not dropped("StoryDeleted", record("gone", 5), ERASED)  # removals still apply
    assert not dropped("StoryPosted", record("bob", 5), ERASED)
    assert not dropped("StoryPosted", record("gone", 5), {})


def test_earlier_engagement_of_an_erased_user_is_counted_unnamed():
    assert anonymous("StoryViewed", record("gone", -1, author_id="bob"), ERASED)
    assert not anonymous("StoryViewed", record("fan", -1, author_id="bob"), ERASED)


def test_an_earlier_view_read_after_the_erasure_counts_but_names_no_one():
    view = record("gone", -1, story_id=S1, author_id="bob", event_id=str(uuid.uuid4()))
    now = to_ms(T0) + 60_000
    result = fold_engagement([("StoryViewed", view)], EngagementSnapshot(erased=ERASED), now,
                             ProjectionPolicy())
    assert [c[0] for c in calls(result.writes, "active")] == ["view"]  # no seen set
    assert calls(result.writes, "record") == []  # no viewer row
    assert result.unnamed == {"gone"}


def test_each_erasure_in_a_batch_is_folded_from_what_came_before_it():
    follow = ("UserFollowed", record("fan", followee_id="gone"))
    erasure = ("UserErased", record("gone", requested_by="SELF"))
    later = ("UserFollowed", record("fan", followee_id="bob"))
    assert list(segments([follow, erasure, later, erasure])) == [
        [follow], [erasure], [later], [erasure]]


def test_an_erasure_removes_the_user_and_keeps_its_record():
    story = Story(story_id=S1, author_id="gone", posted_at=to_ms(T0), expires_at=to_ms(T0) + 1,
                  kind="TEXT")
    snapshot = ErasureSnapshot(
        stories=[story], followers={"fan"}, following={"bob"},
        traces=UserTraces(seen=frozenset({S2}), answered=frozenset({(S2, "ask")}),
                          insights=frozenset({S1}), indexed=frozenset({(S1, 3)}),
                          listed_by=frozenset({"bob"}), close_friends=frozenset({"fan"})),
        highlights=[Highlight("gone", H1, "Mine", (S1,), 0, 0)])
    at = to_ms(T0)
    writes = fold_erasure("gone", at, snapshot)
    active, records = calls(writes, "active"), calls(writes, "record")
    assert active[0] == ("mark_erased", "gone", at) and active[-1] == ("forget_user", "gone")
    assert {("drop_story", "gone", S1, 3), ("forget_story", S1), ("unfollow", "fan", "gone"),
            ("drop_close_friend", "bob", "gone"), ("drop_listed_by", "fan", "gone"),
            ("drop_tray_entry", "fan", "gone"), ("unfollow", "gone", "bob")} <= set(active)
    assert {("delete_story", S1), ("forget_viewer", S2, "gone"),
            ("forget_answer", S2, "ask", "gone"), ("forget_close_friends", "gone"),
            ("delete_highlight", "gone", H1, at), ("drop_member", S1, H1, at),
            ("unkeep", S1), ("unfollow", "fan", "gone", at),
            ("drop_close_friend", "bob", "gone", at)} <= set(records)
