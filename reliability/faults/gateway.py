"""The gateway killed with -9 while clients post with Idempotency-Keys, then retried.

Every post that got a 202 must be in the log, and every key must appear exactly once.
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from gateway.auth import issue_token
from harness.deployment import Deployment
from harness.gateway import GatewayProcess
from harness.log import events_in_log
from reliability.outcome import Row, Size

__all__ = ["gateway_killed"]

CLIENTS = 8
LIMITS: dict[str, Any] = {"gateway_write_limit": 100_000}


class Posters:
    """Users posting one story per Idempotency-Key; the story ids answered, by key."""

    def __init__(self, settings: Settings, seed: int, posts: int):
        self.users = [f"g{seed}-u{i}" for i in range(5)]
        self.tokens = {u: issue_token(settings, u, 3600) for u in self.users}
        self.keys = [(self.users[i % 5], f"post-{seed}-{i}") for i in range(posts)]
        self.accepted: dict[str, set[str]] = defaultdict(set)
        self.url = ""

    def post(self, item: tuple[str, str]) -> bool:
        """One attempt; False when the gateway died under it or asked to come back later."""
        user, key = item
        try:
            answer = httpx.post(f"{self.url}/api/v1/stories", timeout=10,
                                json={"kind": "TEXT", "text": f"story {key}"},
                                headers={"Authorization": f"Bearer {self.tokens[user]}",
                                         "Idempotency-Key": key})
        except httpx.HTTPError:
            return False  # the gateway died under this request: the client retries
        if answer.status_code == 202:
            self.accepted[key].add(answer.json()["story_id"])
            return True
        if answer.status_code in (409, 429, 503):  # in progress or busy: wait as told
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        return False

    def post_until_accepted(self, item: tuple[str, str]) -> None:
        deadline = time.monotonic() + 90
        while not self.post(item) and time.monotonic() < deadline:
            pass


def _post_then_kill(posters: Posters, gateway: GatewayProcess) -> int:
    """Every key posted once; the gateway killed after a third were answered. Answered by then."""
    with ThreadPoolExecutor(CLIENTS) as pool:
        pending = [pool.submit(posters.post, item) for item in posters.keys]
        deadline = time.monotonic() + 10
        while len(posters.accepted) < len(posters.keys) // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        gateway.process.kill()
        for future in pending:
            future.result()
    return len(posters.accepted)


def _retry_all(posters: Posters, gateway: GatewayProcess) -> None:
    """Every client retries with the same key until the new gateway accepts it."""
    posters.url = gateway.url
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(posters.post_until_accepted, posters.keys))


def _row(posters: Posters, logged: list[dict], killed_with: int) -> Row:
    """Lost: answered but not in the log, or never answered. Duplicated: a key answered with
    two stories, a story logged under two event ids, or a story logged that nobody was told of.
    A retry may resend the very same event (same id): that is one post delivered twice, which
    every consumer folds once."""
    posts = len(posters.keys)
    posted: dict[str, set[str]] = defaultdict(set)
    for record in logged:
        posted[record["story_id"]].add(record["event_id"])
    answered = {story for ids in posters.accepted.values() for story in ids}
    lost = len(answered - posted.keys()) + (posts - len(posters.accepted))
    duplicated = (sum(len(ids) - 1 for ids in posters.accepted.values())
                  + sum(len(ids) - 1 for ids in posted.values()) + len(posted.keys() - answered))
    faults = f"gateway kill -9 after {killed_with} of {posts} posts were answered, retried"
    return Row("gateway killed while posting", f"{posts} posts, {CLIENTS} clients", faults, posts,
               len(answered & posted.keys()), lost, duplicated, 0)


def gateway_killed(settings: Settings, size: Size, work: Path, seed: int) -> Row:
    """kill -9 the gateway while clients post, start a new one, let every client retry."""
    deployment = Deployment(settings, work)
    try:
        posters = Posters(deployment.settings, seed, max(20, size.views // 20))
        first = GatewayProcess(deployment, **LIMITS)
        posters.url = first.url
        killed_with = _post_then_kill(posters, first)
        _retry_all(posters, GatewayProcess(deployment, **LIMITS))
        users = set(posters.users)
        logged = events_in_log(deployment.settings, "StoryPosted", lambda r: r["actor_id"] in users)
        return _row(posters, logged, killed_with)
    finally:
        deployment.close()
