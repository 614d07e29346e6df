"""Account erasure and export end to end: `DELETE /api/v1/me`, `stories admin erase-user` and
`GET /api/v1/me/export` against a real worker, Kafka, Redis and the CQL server; how long until the
erasure is complete (docs/privacy.md); the erased user's token refused; late events about them
dropped; an export holding what the user did and nothing of others."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import orjson
import pytest

import schemas
from core.clock import from_ms, to_ms
from gateway.erasure import REFRESH_SECONDS
from gateway.models import AccountExport
from harness.gateway import GatewayWorld, User
from harness.log import events_in_log
from harness.readmodels import entries
from harness.waiting import wait_until

ERASURE_TARGET_S = 60.0
QUESTION = {"sticker_id": "ask", "kind": "QUESTION", "prompt": "Anything?"}


@pytest.fixture(scope="module")
def world(local_stack, tmp_path_factory):
    """One worker and gateway for the module: every test has users of its own, and the replay
    test comes last, since it moves the read models to a new version."""
    w = GatewayWorld(local_stack, tmp_path_factory.mktemp("erasure"))
    try:
        with w.serving():
            yield w
    finally:
        w.close()


def viewer_ids(author: User, story_id: str) -> list[str]:
    page = author.get(f"/api/v1/stories/{story_id}/viewers")
    assert page.status_code == 200, page.text
    return [row["user_id"] for row in page.json()["items"]]


def a_full_life(world: GatewayWorld, user: User, bob: User, cat: User) -> dict[str, str]:
    """The user follows and is followed, lists a close friend, posts and highlights, and views,
    reacts to and answers bob's story; everything folded before the erasure."""
    world.follow(cat, user)
    world.follow(user, bob)
    assert user.put("/api/v1/me/close-friends", json={"user_ids": [cat.id]}).status_code == 202
    own = user.post_story(text="mine")
    assert user.post("/api/v1/highlights", json={"title": "Mine", "story_ids": [own]}
                     ).status_code == 202
    bobs = bob.post_story(text="bob's", stickers=[QUESTION])
    on_bobs = f"/api/v1/stories/{bobs}"
    assert user.post(f"{on_bobs}/views").status_code == 202
    assert user.post(f"{on_bobs}/reactions", json={"emoji": "🔥"}).status_code == 202
    assert user.post(f"{on_bobs}/stickers/ask/answers", json={"text": "erase me"}
                     ).status_code == 202
    wait_until(lambda: viewer_ids(bob, bobs) == [user.id], "the view to be folded")
    wait_until(lambda: user.get(f"/api/v1/users/{user.id}/highlights").json()["items"],
               "the highlight to be folded")
    wait_until(lambda: cat.tray_authors() == [user.id], "the follower's tray")
    return {"own": own, "bobs": bobs}


def erased_everywhere(world: GatewayWorld, user: User, bob: User, cat: User,
                      ids: dict[str, str]) -> bool:
    """Complete: the record is there and no read model names the user (Redis read whole;
    the CQL viewer list, answers, follows, highlights and stories through their reads)."""
    redis, cql = world.redis_models, world.deployment.runtime.cql_models()
    if user.id not in redis.erased([user.id]) or user.id in repr(entries(redis)):
        return False
    answers = cql.question_answers(ids["bobs"], "ask", "", 100)
    return (viewer_ids(bob, ids["bobs"]) == [] and answers == []
            and cql.highlights_of(user.id) == [] and cql.story(ids["own"]) is None
            and cat.tray_authors() == [] and bob.story_ids_of(user) == [])


def test_delete_me_erases_the_account_within_a_minute(world):
    user, bob, cat = world.user("erasing"), world.user("bob"), world.user("cat")
    ids = a_full_life(world, user, bob, cat)
    started = time.monotonic()
    answer = user.delete("/api/v1/me")
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})
    wait_until(lambda: erased_everywhere(world, user, bob, cat, ids), "the erasure",
               timeout=ERASURE_TARGET_S)
    took = time.monotonic() - started
    sys.stdout.write(f"\nDELETE /api/v1/me to erasure complete: {took:.2f} s\n")
    assert took < ERASURE_TARGET_S

    refused = user.get("/api/v1/stories/tray")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == "The account this token speaks for was erased."
    assert user.delete("/api/v1/me").status_code == 401
    assert bob.get(f"/api/v1/stories/{ids['bobs']}/insights").json()["unique_viewers"] == 1
    deleted = events_in_log(world.settings, "StoryDeleted", lambda r: r["actor_id"] == user.id)
    assert [r["story_id"] for r in deleted] == [ids["own"]]  # the media path's signal


def test_support_erases_an_account_from_the_command_line(world):
    user, bob, cat = world.user("support"), world.user("bob"), world.user("cat")
    ids = a_full_life(world, user, bob, cat)
    done = subprocess.run([sys.executable, "-m", "stories.cli", "admin", "erase-user", user.id],
                          env=world.deployment.env(), capture_output=True, text=True, check=True)
    report = orjson.loads(done.stdout)
    assert report["user_id"] == user.id and report["stories_deleted"] == [ids["own"]]
    wait_until(lambda: erased_everywhere(world, user, bob, cat, ids), "the erasure")
    [erasure] = events_in_log(world.settings, "UserErased", lambda r: r["actor_id"] == user.id)
    assert erasure["requested_by"] == "SUPPORT"
    shown = subprocess.run([sys.executable, "-m", "stories.cli", "admin", "show-user", user.id],
                           env=world.deployment.env(), capture_output=True, text=True, check=True)
    seen_by_support = orjson.loads(shown.stdout)
    assert seen_by_support["erased_at"] == from_ms(to_ms(erasure["occurred_at"])).isoformat()
    assert (seen_by_support["stories"], seen_by_support["following"]) == ([], [])
    # This gateway did not send the erasure: it learns it from the read models' index.
    wait_until(lambda: user.get("/api/v1/stories/tray").status_code == 401,
               "the gateway to refuse the erased user's token", timeout=3 * REFRESH_SECONDS)


def test_an_export_holds_what_the_user_did_and_nothing_of_others(world):
    user, bob, cat = world.user("exporting"), world.user("bob"), world.user("cat")
    ids = a_full_life(world, user, bob, cat)
    answer = user.get("/api/v1/me/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == 'attachment; filename="stories-export.json"'
    export = AccountExport.model_validate(answer.json())
    assert export.user_id == user.id
    assert [(s.story_id, s.text) for s in export.stories] == [(ids["own"], "mine")]
    assert [(h.title, [s.story_id for s in h.stories]) for h in export.highlights] == [
        ("Mine", [ids["own"]])]
    assert (export.following, export.followers, export.close_friends) == (
        [bob.id], [cat.id], [cat.id])
    assert [(r.story_id, r.emoji) for r in export.reactions] == [(ids["bobs"], "🔥")]
    assert [(a.story_id, a.sticker_id, a.text) for a in export.answers] == [
        (ids["bobs"], "ask", "erase me")]

    # bob's copy: his story, his follower; not the user's reaction or answer to it
    bobs = AccountExport.model_validate(bob.get("/api/v1/me/export").json())
    assert [s.story_id for s in bobs.stories] == [ids["bobs"]]
    assert (bobs.followers, bobs.reactions, bobs.answers) == ([user.id], [], [])


def test_late_events_about_an_erased_user_stay_out_live_and_in_a_replay(world):
    user, bob, cat = world.user("late"), world.user("bob"), world.user("cat")
    ids = a_full_life(world, user, bob, cat)
    assert user.delete("/api/v1/me").status_code == 202
    wait_until(lambda: erased_everywhere(world, user, bob, cat, ids), "the erasure")
    world.emit("StoryViewed", schemas.new_event("StoryViewed", user.id, story_id=ids["bobs"],
                                                author_id=bob.id))
    world.emit("UserFollowed", schemas.new_event("UserFollowed", cat.id, followee_id=user.id))
    world.emit("StoryPosted", schemas.new_event("StoryPosted", user.id, story_id=str(uuid.uuid4()),
                                                kind="TEXT", text="after"))
    world.deployment.wait_idle()
    assert erased_everywhere(world, user, bob, cat, ids)
    before = entries(world.redis_models)
    world.deployment.replay()  # `stories replay`: the log again, into a new version
    assert entries(world.redis_models) == before
    wait_until(lambda: erased_everywhere(world, user, bob, cat, ids), "the replayed version")
