"""Erased accounts: their tokens are refused, with no read on any request's path.

A token stays valid until it expires, so the gateway must know which users were erased. Each
process keeps in memory the erasures of the last `STORIES_JWT_MAX_LIFETIME_SECONDS` (the longest
a token may live, so an older erasure has no valid token left), by the keyed hash of the id, and
follows the read models' erasure index: every second the erasures of the last minutes, and once a
minute the whole window (an erasure folded later than that). An erasure through this process is
known at once; through another, within about a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from gateway.problems import unauthorized
from projections.stores.redis_batch import pseudonym

__all__ = ["ErasedUsers", "REFRESH_SECONDS", "RECENT_SECONDS", "WHOLE_READ_SECONDS"]

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # how stale another process's erasure may be here
RECENT_SECONDS = 600.0  # how far back each refresh reads (erasures folded that late)
WHOLE_READ_SECONDS = 60.0  # how often the whole window is read again

# Reads the erasures at or after an instant (ms) from an index: keyed hash (hex) -> instant.
ReadSince = Callable[[str, int], Awaitable[dict[str, int]]]


class ErasedUsers:
    """Refuses the users erased within the window (401, like a token that is no longer valid:
    the account it speaks for is gone)."""

    def __init__(self, secret: bytes, window_seconds: float,
                 clock: Callable[[], float] = time.time):
        self._secret = secret
        self._window_ms = int(window_seconds * 1000)
        self._clock = clock
        self._erased: dict[str, int] = {}  # keyed hash of the id (hex) -> erasure instant (ms)
        self._read_from: str | None = None  # the index the whole window was read from
        self._whole_read_at = float("-inf")

    def refuse_erased(self, user_id: str) -> None:
        """Raise the 401 problem when the user was erased (a dictionary lookup)."""
        if self._erased and self._hashed(user_id) in self._erased:
            raise unauthorized("The account this token speaks for was erased.")

    def note(self, user_id: str) -> None:
        """An erasure this process sent: refused from now on, before the worker folds it."""
        self._erased[self._hashed(user_id)] = self._now_ms()

    async def refresh(self, index: str, read_since: ReadSince) -> None:
        """Take the erasures the index gained: the recent ones, or the whole window when the
        index is another one (a new read-model version) or a minute has passed."""
        now_ms, started = self._now_ms(), time.monotonic()
        whole = index != self._read_from or started - self._whole_read_at >= WHOLE_READ_SECONDS
        window_start = now_ms - self._window_ms
        found = await read_since(index, window_start if whole
                                 else now_ms - int(RECENT_SECONDS * 1000))
        if whole:
            # Keep this process's own erasures the worker may not have folded yet.
            recent = now_ms - int(RECENT_SECONDS * 1000)
            noted = {h: at for h, at in self._erased.items() if at >= recent}
            self._erased = {h: at for h, at in {**noted, **found}.items() if at >= window_start}
            self._read_from, self._whole_read_at = index, started
        else:
            self._erased.update(found)

    async def follow(self, index: Callable[[], str], read_since: ReadSince) -> None:
        """Refresh every second for as long as the app runs; a failed read keeps what is known."""
        while True:
            try:
                await self.refresh(index(), read_since)
            except Exception as error:  # noqa: BLE001 - keep refusing what is known, try again
                log.warning("could not read the erasure index: %s", error)
            await asyncio.sleep(REFRESH_SECONDS)

    def _hashed(self, user_id: str) -> str:
        return pseudonym(self._secret, user_id).hex()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
