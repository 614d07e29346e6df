"""The rate limiter's answer fields (draft-ietf-httpapi-ratelimit-headers): computed from the
count the limiter's one round trip returns, on the routes that document a 429 and no other."""

from __future__ import annotations

import re
import warnings

import pytest
from fastapi import APIRouter, FastAPI
from starlette.responses import Response

from gateway import ratelimit
from gateway.commands import in_thread
from gateway.problems import Problem, problem_responses
from gateway.ratelimit import Quota, WriteLimiter
from gateway.routes.deps import GatewayRoute

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

POLICY = re.compile(r'^"(?P<name>[a-z]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
LEFT = re.compile(r'^"(?P<name>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


class CountingRedis:
    """INCR and EXPIRE in one pipeline, as the limiter sends them; counts per key."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.round_trips = 0

    def pipeline(self, transaction: bool = True) -> CountingRedis.Pipeline:
        return CountingRedis.Pipeline(self)

    class Pipeline:
        def __init__(self, redis: CountingRedis) -> None:
            self.redis, self.key = redis, ""

        def incr(self, key: str) -> None:
            self.key = key

        def expire(self, key: str, seconds: int, nx: bool = False) -> None:
            pass

        def execute(self) -> list[object]:
            self.redis.round_trips += 1
            self.redis.counts[self.key] = self.redis.counts.get(self.key, 0) + 1
            return [self.redis.counts[self.key], True]


@pytest.fixture
def limiter(monkeypatch) -> WriteLimiter:
    monkeypatch.setattr(ratelimit.time, "time", lambda: 120.4)  # 59.6 s before the window ends
    return WriteLimiter(CountingRedis(), "test", 60, {"write": 3, "engagement": 10})


def test_the_fields_are_the_drafts_structured_fields():
    assert Quota("write", 60, 60, 42, 17).headers() == {
        "RateLimit-Policy": '"write";q=60;w=60', "RateLimit": '"write";r=42;t=17'}


def test_each_write_counts_down_then_a_429_says_when_the_window_ends(limiter):
    left = [limiter.spend("u", "write").remaining for _ in range(3)]
    assert left == [2, 1, 0]
    assert limiter.spend("u", "engagement") == Quota("engagement", 10, 60, 9, 60)
    with pytest.raises(Problem) as refused:
        limiter.spend("u", "write")
    assert refused.value.status == 429
    assert refused.value.headers == {"Retry-After": "60"}
    assert limiter._client.round_trips == 5  # one per write, nothing more


@pytest.fixture
def client(limiter):
    """Routes as the gateway builds them: the limit spent in a worker thread, like commands."""
    router = APIRouter(route_class=GatewayRoute)

    @router.post("/limited", status_code=202, responses=problem_responses(429))
    async def limited() -> dict[str, str]:
        await in_thread(limiter.spend, "u", "write")
        return {"status": "accepted"}

    @router.post("/own", responses=problem_responses(429))
    async def own() -> Response:
        await in_thread(limiter.spend, "v", "write")
        return Response(status_code=204)

    @router.get("/read")
    async def read() -> dict[str, str]:
        await in_thread(limiter.spend, "w", "write")  # counted, but the route documents no 429
        return {}

    app = FastAPI()
    app.include_router(router)
    app.add_exception_handler(Problem, lambda request, error: error.response())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TestClient(app)


def test_a_limited_route_answers_with_the_quota_it_spent(client):
    answers = [client.post("/limited") for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    for answer, left in zip(answers, [2, 1, 0, 0], strict=True):
        policy = POLICY.match(answer.headers["RateLimit-Policy"])
        state = LEFT.match(answer.headers["RateLimit"])
        assert policy and policy.group("name", "q", "w") == ("write", "3", "60")
        assert state and state.group("name", "r", "t") == ("write", str(left), "60")
    assert answers[3].headers["Retry-After"] == answers[3].headers["RateLimit"].rsplit("=", 1)[1]
    assert answers[3].headers["content-type"] == "application/problem+json"


def test_an_answer_built_by_the_handler_carries_the_quota_too(client):
    answer = client.post("/own")
    assert answer.status_code == 204 and answer.headers["RateLimit"] == '"write";r=2;t=60'


def test_a_route_without_a_documented_429_is_left_as_it_is(client):
    answer = client.get("/read")
    assert answer.status_code == 200
    assert "RateLimit" not in answer.headers and "RateLimit-Policy" not in answer.headers
