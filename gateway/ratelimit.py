"""Per-user write limits: fixed windows in Redis, one round trip per write. The count that round
trip returns also gives the quota left, which the answer tells in the `RateLimit-Policy` and
`RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-11 (structured fields)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import redis
from starlette.requests import Request
from starlette.responses import Response

from gateway.keys import GatewayKind, gateway_key
from gateway.problems import Problem, too_many_requests

__all__ = ["WriteLimiter", "Quota", "Handler", "with_quota_headers", "declare_quota_headers"]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# The quotas one request counted against, filled by `spend` in whichever thread runs the
# command (worker threads run in a copy of the request's context, which holds this list).
_SPENT: ContextVar[list[Quota] | None] = ContextVar("stories_quota_spent", default=None)


@dataclass(frozen=True)
class Quota:
    """One policy's state right after a request counted against it."""

    policy: str  # the kind of write: "write" or "engagement"
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int  # until the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_seconds}',
        }


class WriteLimiter:
    """Counts a user's writes per window and kind; over the limit is a 429 with Retry-After."""

    def __init__(self, client: redis.Redis, prefix: str, window_seconds: int, limits: dict[str, int]):
        self._client = client
        self._prefix = prefix
        self._window = window_seconds
        self._limits = limits

    def spend(self, user_id: str, kind: str) -> Quota:
        """Count one write of `kind` (e.g. "write", "engagement") or refuse it."""
        now = time.time()
        window = int(now // self._window)
        key = gateway_key(self._prefix, GatewayKind.RATE, kind, user_id, str(window))
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self._window + 1, nx=True)
        count, _ = pipe.execute()
        limit = self._limits[kind]
        reset = max(1, math.ceil((window + 1) * self._window - now))
        quota = Quota(kind, limit, self._window, max(0, limit - count), reset)
        spent = _SPENT.get()
        if spent is not None:
            spent.append(quota)
        if count > limit:
            raise too_many_requests(reset)
        return quota


def with_quota_headers(handler: Handler) -> Handler:
    """The route's handler, its answer (a problem included) carrying the quota it spent."""

    async def counted(request: Request) -> Response:
        spent: list[Quota] = []
        token = _SPENT.set(spent)
        try:
            response = await handler(request)
        except Problem as problem:
            if spent:
                problem.headers.update(spent[-1].headers())
            raise
        finally:
            _SPENT.reset(token)
        if spent:
            response.headers.update(spent[-1].headers())
        return response

    return counted


def declare_quota_headers(openapi: dict[str, Any]) -> dict[str, Any]:
    """Operations that may answer 429 send both fields with every success and with the 429."""
    headers = {
        "RateLimit-Policy": {
            "description": "The quota this operation counts against: `q` requests per `w`"
                           " seconds (draft-ietf-httpapi-ratelimit-headers)",
            "required": True,
            "schema": {"type": "string", "pattern": r'^"[a-z]+";q=\d+;w=\d+$'},
        },
        "RateLimit": {
            "description": "What is left of that quota: `r` requests, until the window ends"
                           " in `t` seconds",
            "required": True,
            "schema": {"type": "string", "pattern": r'^"[a-z]+";r=\d+;t=\d+$'},
        },
    }
    for item in openapi.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if "429" not in responses:
                continue
            for status, response in responses.items():
                if status.startswith("2") or status == "429":
                    response["headers"] = {**response.get("headers", {}), **headers}
    return openapi
