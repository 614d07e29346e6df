"""Erased accounts: their tokens are refused, and erasing one is a command like the others.

A token stays valid until it expires, so the gateway asks the read models whether its user was
erased: one GET of the erasure record (a keyed hash of the id, `projections.folds.erasure`),
remembered for a second when the answer is no, so a busy user costs one lookup a second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from gateway.problems import unauthorized

__all__ = ["ErasedUsers", "REMEMBER_SECONDS"]

REMEMBER_SECONDS = 1.0  # how long a "not erased" answer is trusted
_MAX_REMEMBERED = 100_000


class ErasedUsers:
    """Refuses the users whose erasure the read models hold (401, like a token that is no
    longer valid: the account it speaks for is gone)."""

    def __init__(self, erased_at: Callable[[str], Awaitable[int | None]],
                 remember_seconds: float = REMEMBER_SECONDS):
        self._erased_at = erased_at
        self._remember = remember_seconds
        self._clear_until: dict[str, float] = {}

    async def refuse_erased(self, user_id: str) -> None:
        """Raise the 401 problem when the user was erased."""
        now = time.monotonic()
        if self._clear_until.get(user_id, 0.0) > now:
            return
        if await self._erased_at(user_id) is not None:
            self._clear_until.pop(user_id, None)
            raise unauthorized("The account this token speaks for was erased.")
        if len(self._clear_until) >= _MAX_REMEMBERED:
            self._clear_until = {}
        self._clear_until[user_id] = now + self._remember
