"""Who may do what to a story: every story-scoped endpoint against every kind of caller.

A denial must be indistinguishable from absence (same status, same body, byte for byte, as
for a story that never existed); every endpoint refuses a missing or bad token. Each check
that fails is a leak.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from core.settings import Settings
from harness.gateway import NO_SUCH_STORY, GatewayWorld, User, WebSocketDenialResponse
from harness.waiting import wait_until
from reliability.outcome import Row, Size

__all__ = ["access_matrix", "AccessWorld", "CALLERS", "STORIES", "AUDIENCE", "Check", "story_calls",
           "expected_status", "bad_tokens", "story_checks", "live_check", "delete_checks",
           "token_checks", "erasure_checks", "open_checks"]

Call = tuple[str, str, dict | None]
Check = tuple[str, bool]
POLL = [{"sticker_id": "poll", "kind": "POLL", "prompt": "?", "options": ["a", "b"]}]
CALLERS = ("author", "follower", "friend", "only_member", "excluded", "stranger")
# Who is in each story's audience (the author is always allowed).
AUDIENCE = {
    "public": {"follower", "friend", "excluded"},
    "friends": {"friend"},
    "only": {"only_member"},
    "except": {"follower", "friend"},
}
STORIES = tuple(AUDIENCE)
log = logging.getLogger(__name__)

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")


class AccessWorld:
    """An author with one story per audience mode, and one user of every kind."""

    def __init__(self, world: GatewayWorld):
        self.world = world
        self.users: dict[str, User] = {name: world.user(name) for name in CALLERS}
        self.author = self.users["author"]
        for name in ("follower", "friend", "excluded"):
            world.follow(self.users[name], self.author)
        self._close_friends(self.users["friend"])
        self.story_ids = {label: self.author.post_story(text=label, audience=audience,
                                                        stickers=POLL)
                          for label, audience in self._audiences().items()}

    def _close_friends(self, friend: User) -> None:
        answer = self.author.put("/api/v1/me/close-friends", json={"user_ids": [friend.id]})
        if answer.status_code != 202:
            raise RuntimeError(f"close friends not accepted: {answer.text}")
        wait_until(lambda: self.world.redis_models.close_friends(self.author.id) == {friend.id},
                   "the close-friends list")

    def _audiences(self) -> dict[str, dict[str, Any]]:
        return {
            "public": {"mode": "FOLLOWERS"},
            "friends": {"mode": "CLOSE_FRIENDS"},
            "only": {"mode": "ONLY", "user_ids": [self.users["only_member"].id]},
            "except": {"mode": "FOLLOWERS_EXCEPT", "user_ids": [self.users["excluded"].id]},
        }


def story_calls(story_id: str) -> dict[str, Call]:
    """Every story-scoped endpoint, by action."""
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


def expected_status(caller: str, story: str, action: str) -> int:
    """The author manages, the audience engages, everyone else finds nothing."""
    if caller == "author":
        return {"viewers": 200, "insights": 200, "delete": 202}.get(action, 204)
    if caller in AUDIENCE[story] and action not in ("viewers", "insights", "delete"):
        return 202
    return 404


def _call(client: httpx.Client, headers: dict, call: Call) -> httpx.Response:
    method, path, body = call
    return client.request(method, path, headers=headers, json=body)


def _same(one: httpx.Response, other: httpx.Response) -> bool:
    return (one.status_code, one.content, one.headers.get("content-type")) == (
        other.status_code, other.content, other.headers.get("content-type"))


def story_checks(access: AccessWorld, caller: str, story: str) -> Iterator[Check]:
    """Each action on one story as one caller; a denial answered exactly as absence."""
    user, story_id = access.users[caller], access.story_ids[story]
    absent = story_calls(NO_SUCH_STORY)
    for action, call in story_calls(story_id).items():
        if action == "delete" and caller == "author":
            continue  # checked on a story of its own
        answer = _call(user.client, user.headers, call)
        wanted = expected_status(caller, story, action)
        ok = answer.status_code == wanted
        if ok and wanted == 404:
            ok = _same(answer, _call(user.client, user.headers, absent[action]))
        yield f"{caller} {action} {story}", ok
    listed = story_id in user.story_ids_of(access.author)
    yield f"{caller} lists {story}", listed == (caller == "author" or caller in AUDIENCE[story])


def _denial(client: Any, path: str) -> WebSocketDenialResponse | None:
    """The refusal of a live-feed connection, None when it was accepted."""
    try:
        with client.websocket_connect(path):
            return None
    except WebSocketDenialResponse as denied:
        return denied


def live_check(access: AccessWorld, caller: str) -> Check:
    """Only the author watches the live feed; others are refused as for no story at all."""
    user = access.users[caller]
    token = user.headers["Authorization"].split()[1]
    path = f"/api/v1/stories/{access.story_ids['public']}/live?token={token}"
    if caller == "author":
        with user.client.websocket_connect(path) as live:
            return f"{caller} live", live.receive_json()["type"] == "tallies"
    denied = _denial(user.client, path)
    absent = _denial(user.client, f"/api/v1/stories/{NO_SUCH_STORY}/live?token={token}")
    ok = (denied is not None and absent is not None and denied.status_code == 404
          and absent.status_code == 404 and denied.content == absent.content)
    return f"{caller} live", ok


def delete_checks(access: AccessWorld) -> Iterator[Check]:
    """Nobody but the author deletes; the author's deletion takes the story away."""
    author = access.author
    story_id = author.post_story(text="to delete")
    for caller in CALLERS[1:]:
        user = access.users[caller]
        answer = user.delete(f"/api/v1/stories/{story_id}")
        absent = user.delete(f"/api/v1/stories/{NO_SUCH_STORY}")
        yield f"{caller} delete", answer.status_code == 404 and _same(answer, absent)
    accepted = author.delete(f"/api/v1/stories/{story_id}").status_code == 202
    if accepted:
        wait_until(lambda: story_id not in author.story_ids_of(author), "the deletion")
    yield "author delete", accepted and access.world.redis_models.story(story_id) is None


def _claims(sub: str | None = "intruder", **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {"sub": sub, "iat": now, "exp": now + timedelta(hours=1), **changes}
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens(settings: Settings) -> dict[str, str | None]:
    """Missing, forged, expired, wrong-algorithm and malformed tokens, by what is wrong."""
    secret = settings.jwt_secret.get_secret_value()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short HMAC keys, on purpose
        return {
            "no token": None,
            "forged (wrong secret)": jwt.encode(_claims(), "not-the-secret-" * 4, "HS256"),
            "expired": jwt.encode(_claims(exp=datetime.now(UTC) - timedelta(seconds=5)), secret),
            "alg none": jwt.encode(_claims(), "", algorithm="none"),
            "alg RS256": jwt.encode(_claims(), rsa_key, algorithm="RS256"),
            "alg HS512 with the secret": jwt.encode(_claims(), secret, algorithm="HS512"),
            "no exp": jwt.encode(_claims(exp=None), secret),
            "no sub": jwt.encode(_claims(sub=None), secret),
            "sub not a user id": jwt.encode(_claims(sub="two words"), secret),
            "garbage": "not.a.token",
        }


def _every_endpoint(access: AccessWorld) -> list[Call]:
    author, story_id = access.author.id, access.story_ids["public"]
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


def _refused(answer: httpx.Response) -> bool:
    return (answer.status_code == 401
            and answer.headers.get("content-type") == "application/problem+json"
            and answer.headers.get("www-authenticate", "").startswith("Bearer"))


def token_checks(access: AccessWorld) -> Iterator[Check]:
    """Every endpoint, the live feed included, refuses each bad token with a 401 problem."""
    client = access.world.client
    live = f"/api/v1/stories/{access.story_ids['public']}/live"
    for label, token in bad_tokens(access.world.settings).items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for call in _every_endpoint(access):
            yield f"{label}: {call[0]} {call[1]}", _refused(_call(client, headers, call))
        denied = _denial(client, f"{live}?token={token}" if token else live)
        yield f"{label}: live", denied is not None and denied.status_code == 401


def erasure_checks(access: AccessWorld) -> Iterator[Check]:
    """An erased author's story is absent for its audience, byte for byte, live feed included;
    the erased user's still unexpired token is refused on every endpoint."""
    world, follower = access.world, access.users["follower"]
    erased = world.user("erased")
    world.follow(follower, erased)
    story_id = erased.post_story(text="erased", stickers=POLL)
    yield "erased: DELETE /api/v1/me", erased.delete("/api/v1/me").status_code == 202
    wait_until(lambda: erased.id in world.redis_models.erased([erased.id])
               and world.redis_models.story(story_id) is None, "the erasure")
    absent = story_calls(NO_SUCH_STORY)
    for action, call in story_calls(story_id).items():
        answer = _call(follower.client, follower.headers, call)
        ok = answer.status_code == 404 and _same(answer, _call(follower.client, follower.headers,
                                                                absent[action]))
        yield f"erased author's story: follower {action}", ok
    token = follower.headers["Authorization"].split()[1]
    denied = _denial(follower.client, f"/api/v1/stories/{story_id}/live?token={token}")
    gone = _denial(follower.client, f"/api/v1/stories/{NO_SUCH_STORY}/live?token={token}")
    yield "erased author's story: follower live", (
        denied is not None and gone is not None and denied.content == gone.content)
    yield "erased author's story: follower lists it", not follower.story_ids_of(erased)
    yield "erased author: follower's tray", erased.id not in follower.tray_authors()
    own = [*_every_endpoint(access), ("GET", "/api/v1/me/export", None),
           ("DELETE", "/api/v1/me", None)]
    for call in own:
        yield f"erased token: {call[0]} {call[1]}", _refused(_call(erased.client, erased.headers,
                                                                    call))


def open_checks(access: AccessWorld) -> Iterator[Check]:
    """The health, metrics and API document endpoints answer without a token."""
    for path in OPEN_PATHS:
        yield f"open {path}", access.world.client.get(path).status_code == 200


def _checks(access: AccessWorld) -> Iterator[Check]:
    for caller in CALLERS:
        for story in STORIES:
            yield from story_checks(access, caller, story)
        yield live_check(access, caller)
    yield from delete_checks(access)
    yield from token_checks(access)
    yield from erasure_checks(access)
    yield from open_checks(access)


def access_matrix(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """Every story-scoped endpoint against every kind of caller; a wrong answer is a leak."""
    world = GatewayWorld(settings, work)
    try:
        with world.serving():
            results = list(_checks(AccessWorld(world)))
    finally:
        world.close()
    failed = [name for name, ok in results if not ok]
    for name in failed:
        log.warning("access check failed: %s", name)
    return Row("gateway access matrix", f"{len(results)} endpoint × caller checks",
               "outsiders, excluded users, no/forged/expired/wrong-algorithm tokens, "
               "an erased author and their token",
               len(results), len(results) - len(failed), 0, 0, len(failed))
