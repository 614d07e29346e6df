"""`GET /api/v1/me/export` against a real worker, Kafka, Redis and the CQL server: a user's copy
of what the product holds about them, nothing of anyone else's, and nothing once erased."""

from __future__ import annotations

import pytest

from gateway.models import AccountExport
from harness.gateway import GatewayWorld
from harness.waiting import wait_until
from tests.integration.test_erasure import a_full_life


@pytest.fixture
def world(local_stack, tmp_path):
    w = GatewayWorld(local_stack, tmp_path)
    try:
        with w.serving():
            yield w
    finally:
        w.close()


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


def test_an_erased_account_has_nothing_to_export(world):
    user, bob, cat = world.user("exported"), world.user("bob"), world.user("cat")
    ids = a_full_life(world, user, bob, cat)
    assert user.delete("/api/v1/me").status_code == 202
    assert user.get("/api/v1/me/export").status_code == 401
    wait_until(lambda: bob.get("/api/v1/me/export").json()["followers"] == [],
               "the erasure to leave bob's followers")
    assert ids["bobs"] in [s["story_id"] for s in bob.get("/api/v1/me/export").json()["stories"]]
