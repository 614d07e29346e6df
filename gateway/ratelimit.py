"""Per-user write limits: fixed windows in Redis, one round trip per write."""

from __future__ import annotations

import time

import redis

from gateway.keys import GatewayKind, gateway_key
from gateway.problems import too_many_requests

__all__ = ["WriteLimiter"]


class WriteLimiter:
    """Counts a user's writes per window and kind; over the limit is a 429 with Retry-After."""

    def __init__(self, client: redis.Redis, prefix: str, window_seconds: int, limits: dict[str, int]):
        self._client = client
        self._prefix = prefix
        self._window = window_seconds
        self._limits = limits

    def spend(self, user_id: str, kind: str) -> None:
        """Count one write of `kind` (e.g. "write", "engagement") or refuse it."""
        now = time.time()
        window = int(now // self._window)
        key = gateway_key(self._prefix, GatewayKind.RATE, kind, user_id, str(window))
        pipe = self._client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, self._window + 1, nx=True)
        count, _ = pipe.execute()
        if count > self._limits[kind]:
            retry_after = max(1, int((window + 1) * self._window - now + 0.999))
            raise too_many_requests(retry_after)
