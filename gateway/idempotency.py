"""Idempotent posting: one Idempotency-Key (per user) names one story, emitted at most once.

The key is claimed in Redis with one atomic script before anything is emitted, so two
concurrent requests with the same key never both emit. A claim whose emission failed (or
whose gateway died) is taken over by the next retry, which re-sends the same story id and
event id: a duplicate on the log is harmless to the read models.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import orjson
import redis

from core.clock import now_ms
from gateway.keys import GatewayKind, gateway_key

__all__ = ["Claim", "ClaimState", "IdempotencyKeys"]

CLAIM_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return {'new', ARGV[1]}
end
local entry = cjson.decode(current)
if entry.fp ~= ARGV[3] then return {'mismatch', current} end
local stale = entry.state == 'pending' and tonumber(entry.at) + tonumber(ARGV[5]) < tonumber(ARGV[4])
if entry.state == 'failed' or stale then
  entry.state = 'pending'
  entry.at = tonumber(ARGV[4])
  local claimed = cjson.encode(entry)
  redis.call('SET', KEYS[1], claimed, 'KEEPTTL')
  return {'retry', claimed}
end
return {entry.state, current}
"""

# Only the claim's own attempt may settle it (compare-and-set on the whole entry).
SETTLE_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""


class ClaimState(StrEnum):
    NEW = "new"  # ours: emit it
    RETRY = "retry"  # an earlier attempt failed: emit the same ids again
    PENDING = "pending"  # another request with this key is emitting right now
    DONE = "done"  # already posted: answer with its story id
    MISMATCH = "mismatch"  # the key was used for a different request


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    story_id: str
    event_id: str
    raw: bytes  # the entry as stored, for compare-and-set


class IdempotencyKeys:
    """Claims, completes and releases Idempotency-Keys in Redis."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_seconds: int, stale_seconds: float):
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._stale_ms = int(stale_seconds * 1000)
        self._claim = client.register_script(CLAIM_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)

    def _key(self, user_id: str, key: str) -> str:
        return gateway_key(self._prefix, GatewayKind.IDEMPOTENCY, user_id, key)

    def claim(self, user_id: str, key: str, fingerprint: str) -> Claim:
        """Claim the key for this request, or learn what already happened under it."""
        now = now_ms()
        fresh = orjson.dumps({"state": "pending", "fp": fingerprint, "at": now,
                              "story_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4())})
        state, raw = self._claim(keys=[self._key(user_id, key)],
                                 args=[fresh, self._ttl, fingerprint, now, self._stale_ms])
        entry = orjson.loads(raw)
        return Claim(ClaimState(state.decode()), entry["story_id"], entry["event_id"], raw)

    def complete(self, user_id: str, key: str, claim: Claim) -> None:
        """The story was acknowledged: the key answers with it from now on."""
        self._set_state(user_id, key, claim, "done")

    def release(self, user_id: str, key: str, claim: Claim) -> None:
        """The emission failed: the next retry may take the claim over."""
        self._set_state(user_id, key, claim, "failed")

    def forget_user(self, user_id: str) -> int:
        """Drop every Idempotency-Key record of a user (their erasure); how many there were.
        One SCAN of the keyspace: erasures are rare, and the records expire anyway."""
        pattern = _glob_escaped(self._key(user_id, "")) + "*"
        found = list(self._client.scan_iter(match=pattern, count=1000))
        for key in found:
            self._client.unlink(key)
        return len(found)

    def _set_state(self, user_id: str, key: str, claim: Claim, state: str) -> None:
        entry = orjson.loads(claim.raw)
        entry["state"] = state
        self._settle(keys=[self._key(user_id, key)], args=[claim.raw, orjson.dumps(entry)])


def _glob_escaped(text: str) -> str:
    """Text matched literally by a Redis MATCH pattern (user ids may hold * ? [ ] \\)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
