"""The gateway's memory of erased accounts: refused at once when erased through this process,
within a refresh when erased elsewhere, forgotten once no token can outlive the erasure, and
read whole again when the read models move to another version."""

from __future__ import annotations

import asyncio

import pytest

from gateway.erasure import RECENT_SECONDS, ErasedUsers
from gateway.problems import Problem
from projections.stores.redis_batch import pseudonym

SECRET = b"s" * 32
DAY_S = 86_400.0
WINDOW_S = 30 * DAY_S


class ErasureIndex:
    """Erasures by index name, as the read models' sorted set holds them (hash -> instant)."""

    def __init__(self) -> None:
        self.indexes: dict[str, dict[str, int]] = {}
        self.asked: list[tuple[str, int]] = []

    def erase(self, user_id: str, at_s: float, index: str = "v1") -> None:
        self.indexes.setdefault(index, {})[pseudonym(SECRET, user_id).hex()] = int(at_s * 1000)

    async def read_since(self, index: str, since_ms: int) -> dict[str, int]:
        self.asked.append((index, since_ms))
        return {h: at for h, at in self.indexes.get(index, {}).items() if at >= since_ms}


def refused(users: ErasedUsers, user_id: str) -> bool:
    try:
        users.refuse_erased(user_id)
    except Problem as problem:
        assert problem.status == 401
        assert problem.document.detail == "The account this token speaks for was erased."
        return True
    return False


def test_an_erasure_elsewhere_is_refused_after_the_next_refresh():
    now = [100 * DAY_S]
    index, users = ErasureIndex(), ErasedUsers(SECRET, WINDOW_S, clock=lambda: now[0])
    index.erase("old", now[0] - 10 * DAY_S)
    asyncio.run(users.refresh("v1", index.read_since))
    assert refused(users, "old") and not refused(users, "ann")
    index.erase("ann", now[0] - 5)
    assert not refused(users, "ann")  # not read yet
    asyncio.run(users.refresh("v1", index.read_since))
    assert refused(users, "ann")
    # The second read asked only for the recent erasures, not the whole window.
    assert index.asked[-1] == ("v1", int((now[0] - RECENT_SECONDS) * 1000))


def test_an_erasure_through_this_process_is_refused_at_once_and_kept_until_folded():
    now = [100 * DAY_S]
    index, users = ErasureIndex(), ErasedUsers(SECRET, WINDOW_S, clock=lambda: now[0])
    users.note("me")
    assert refused(users, "me")
    asyncio.run(users.refresh("v2", index.read_since))  # a whole read, the worker not there yet
    assert refused(users, "me")


def test_erasures_older_than_any_token_are_forgotten(monkeypatch: pytest.MonkeyPatch):
    now = [100 * DAY_S]
    index, users = ErasureIndex(), ErasedUsers(SECRET, WINDOW_S, clock=lambda: now[0])
    index.erase("gone", now[0] - DAY_S)
    asyncio.run(users.refresh("v1", index.read_since))
    assert refused(users, "gone")
    now[0] += WINDOW_S
    monkeypatch.setattr("gateway.erasure.WHOLE_READ_SECONDS", 0.0)  # the next read is whole
    asyncio.run(users.refresh("v1", index.read_since))
    assert not refused(users, "gone")


def test_another_read_model_version_is_read_whole():
    now = [100 * DAY_S]
    index, users = ErasureIndex(), ErasedUsers(SECRET, WINDOW_S, clock=lambda: now[0])
    asyncio.run(users.refresh("v1", index.read_since))
    index.erase("replayed", now[0] - 20 * DAY_S, index="v2")  # long ago, in the new version
    asyncio.run(users.refresh("v2", index.read_since))
    assert refused(users, "replayed")
    assert index.asked[-1] == ("v2", int((now[0] - WINDOW_S) * 1000))


def test_a_failed_read_is_tried_again_and_what_is_known_stays(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("gateway.erasure.REFRESH_SECONDS", 0.001)
    now = [100 * DAY_S]
    index, users = ErasureIndex(), ErasedUsers(SECRET, WINDOW_S, clock=lambda: now[0])
    users.note("known")
    index.erase("elsewhere", now[0] - 5)
    failures = [ConnectionError("Redis away"), RuntimeError("cluster moved")]

    async def flaky(name: str, since_ms: int) -> dict[str, int]:
        if failures:
            raise failures.pop(0)
        return await index.read_since(name, since_ms)

    async def run() -> None:
        follower = asyncio.create_task(users.follow(lambda: "v1", flaky))
        try:
            for _ in range(1000):
                if refused(users, "elsewhere"):
                    break
                assert refused(users, "known")
                await asyncio.sleep(0.001)
        finally:
            follower.cancel()

    asyncio.run(run())
    assert failures == [] and refused(users, "elsewhere") and refused(users, "known")
