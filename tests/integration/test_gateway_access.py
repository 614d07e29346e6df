"""Who may do what to a story: every story-scoped endpoint, every kind of caller.

Denials must be indistinguishable from absence: same status, same body, byte for byte, as
for a story that never existed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.gateway_helpers import (
    NO_SUCH_STORY,
    GatewayWorld,
    User,
    WebSocketDenialResponse,
    wait_until,
)

POLL = [{"sticker_id": "poll", "kind": "POLL", "prompt": "?", "options": ["a", "b"]}]
CALLERS = ("author", "follower", "friend", "only_member", "excluded", "stranger")
STORIES = ("public", "friends", "only", "except")
# Who is in each story's audience (the author is always allowed).
AUDIENCE = {
    "public": {"follower", "friend", "excluded"},
    "friends": {"friend"},
    "only": {"only_member"},
    "except": {"follower", "friend"},
}


class AccessWorld:
    """An author with one story per audience mode, and one user of every kind."""

    def __init__(self, world: GatewayWorld):
        self.world = world
        self.users: dict[str, User] = {name: world.user(name) for name in CALLERS}
        author, u = self.users["author"], self.users
        for name in ("follower", "friend", "excluded"):
            world.follow(u[name], author)
        assert author.put("/api/v1/me/close-friends",
                          json={"user_ids": [u["friend"].id]}).status_code == 202
        audiences = {
            "public": {"mode": "FOLLOWERS"},
            "friends": {"mode": "CLOSE_FRIENDS"},
            "only": {"mode": "ONLY", "user_ids": [u["only_member"].id]},
            "except": {"mode": "FOLLOWERS_EXCEPT", "user_ids": [u["excluded"].id]},
        }
        wait_until(lambda: world.redis_models.close_friends(author.id) == {u["friend"].id},
                   "the close-friends list")
        self.story_ids = {label: author.post_story(text=label, audience=audience, stickers=POLL)
                          for label, audience in audiences.items()}


@pytest.fixture(scope="module")
def access(local_stack, tmp_path_factory):
    world = GatewayWorld(local_stack, tmp_path_factory.mktemp("gateway-access"))
    try:
        with world.serving():
            yield AccessWorld(world)
    finally:
        world.close()


def story_calls(story_id: str) -> dict[str, tuple[str, str, dict | None]]:
    base = f"/api/v1/stories/{story_id}"
    return {
        "view": ("POST", f"{base}/views", None),
        "react": ("POST", f"{base}/reactions", {"emoji": "👏"}),
        "reply": ("POST", f"{base}/replies", {}),
        "answer": ("POST", f"{base}/stickers/poll/answers", {"option_index": 0}),
        "viewers": ("GET", f"{base}/viewers", None),
        "insights": ("GET", f"{base}/insights", None),
        "delete": ("DELETE", base, None),
    }


def call(client, headers: dict, method: str, path: str, body: dict | None):
    return client.request(method, path, headers=headers, json=body)


def expected_status(caller: str, story: str, action: str) -> int:
    if caller == "author":
        return {"viewers": 200, "insights": 200, "delete": 202}.get(action, 204)
    if caller in AUDIENCE[story] and action not in ("viewers", "insights", "delete"):
        return 202
    return 404


@pytest.mark.parametrize("story", STORIES)
@pytest.mark.parametrize("caller", CALLERS)
def test_story_endpoints_answer_each_caller_as_expected(access, caller, story):
    user = access.users[caller]
    story_id = access.story_ids[story]
    absent_calls = story_calls(NO_SUCH_STORY)
    for action, (method, path, body) in story_calls(story_id).items():
        if action == "delete" and caller == "author":
            continue  # tested below on a story of its own
        response = call(user.client, user.headers, method, path, body)
        wanted = expected_status(caller, story, action)
        assert response.status_code == wanted, (action, response.text)
        if wanted == 404:
            absent = call(user.client, user.headers, *absent_calls[action])
            assert (response.content, response.headers["content-type"]) == (
                absent.content, absent.headers["content-type"]), action

    listed = story_id in user.story_ids_of(access.users["author"])
    assert listed == (caller == "author" or caller in AUDIENCE[story])


@pytest.mark.parametrize("caller", CALLERS)
def test_only_the_author_watches_the_live_feed(access, caller):
    user = access.users[caller]
    token = user.headers["Authorization"].split()[1]
    path = f"/api/v1/stories/{access.story_ids['public']}/live?token={token}"
    if caller == "author":
        with user.client.websocket_connect(path) as live:
            assert live.receive_json()["type"] == "tallies"
        return
    with pytest.raises(WebSocketDenialResponse) as denied, user.client.websocket_connect(path):
        pass
    nowhere = f"/api/v1/stories/{NO_SUCH_STORY}/live?token={token}"
    with pytest.raises(WebSocketDenialResponse) as absent, user.client.websocket_connect(nowhere):
        pass
    assert denied.value.status_code == absent.value.status_code == 404
    assert denied.value.content == absent.value.content


def test_only_the_author_deletes(access):
    world = access.world
    author = access.users["author"]
    story_id = author.post_story(text="to delete")
    for caller in CALLERS[1:]:
        user = access.users[caller]
        response = user.delete(f"/api/v1/stories/{story_id}")
        absent = user.delete(f"/api/v1/stories/{NO_SUCH_STORY}")
        assert (response.status_code, response.content) == (404, absent.content)
    assert author.delete(f"/api/v1/stories/{story_id}").status_code == 202
    wait_until(lambda: story_id not in author.story_ids_of(author), "the deletion")
    assert world.redis_models.story(story_id) is None


# -- tokens -------------------------------------------------------------------------------------


def _claims(sub: str = "intruder", **changes) -> dict:
    now = datetime.now(UTC)
    claims = {"sub": sub, "iat": now, "exp": now + timedelta(hours=1)}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens(settings) -> dict[str, str | None]:
    secret = settings.jwt_secret.get_secret_value()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "no token": None,
        "forged (wrong secret)": jwt.encode(_claims(), "not-the-secret-" * 4, "HS256"),
        "expired": jwt.encode(_claims(exp=datetime.now(UTC) - timedelta(seconds=5)), secret),
        "alg none": jwt.encode(_claims(), None, algorithm="none"),
        "alg RS256": jwt.encode(_claims(), rsa_key, algorithm="RS256"),
        "alg HS512 with the secret": jwt.encode(_claims(), secret, algorithm="HS512"),
        "no exp": jwt.encode(_claims(exp=None), secret),
        "no sub": jwt.encode(_claims(sub=None), secret),
        "sub not a user id": jwt.encode(_claims(sub="two words"), secret),
        "garbage": "not.a.token",
    }


def every_endpoint(access) -> list[tuple[str, str, dict | None]]:
    author = access.users["author"].id
    story_id = access.story_ids["public"]
    highlight = "11111111-1111-4111-8111-111111111111"
    return [
        *story_calls(story_id).values(),
        ("GET", "/api/v1/stories/tray", None),
        ("GET", f"/api/v1/users/{author}/stories", None),
        ("GET", f"/api/v1/users/{author}/highlights", None),
        ("POST", "/api/v1/stories", {"text": "x"}),
        ("POST", "/api/v1/media/uploads", {"kind": "IMAGE"}),
        ("PUT", f"/api/v1/users/{author}/follow", None),
        ("DELETE", f"/api/v1/users/{author}/follow", None),
        ("PUT", "/api/v1/me/close-friends", {"user_ids": []}),
        ("POST", "/api/v1/highlights", {"title": "t", "story_ids": [story_id]}),
        ("PATCH", f"/api/v1/highlights/{highlight}", {"title": "t"}),
        ("DELETE", f"/api/v1/highlights/{highlight}", None),
        ("POST", f"/api/v1/highlights/{highlight}/stories", {"story_id": story_id}),
        ("DELETE", f"/api/v1/highlights/{highlight}/stories/{story_id}", None),
    ]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_every_endpoint_refuses_a_missing_or_bad_token(access):
    client = access.world.client
    for label, token in bad_tokens(access.world.settings).items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for method, path, body in every_endpoint(access):
            response = call(client, headers, method, path, body)
            assert response.status_code == 401, (label, method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
        live = f"/api/v1/stories/{access.story_ids['public']}/live"
        live = f"{live}?token={token}" if token else live
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(live):
            pass
        assert denied.value.status_code == 401, label


def test_the_open_endpoints_need_no_token(access):
    client = access.world.client
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path
