"""Stories' media keys, remembered briefly so hot reads skip the CQL round.

A key only reaches a caller after the read model has said the story is visible to them, on
every request; the cache never decides visibility. A processed story's key never changes
while it exists, so a minute of caching serves nothing new. Absent keys are remembered for
a moment only, so a story whose media was just processed gets its key at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from anyio import to_thread

__all__ = ["MediaKeyCache"]

KEY_SECONDS = 60.0
ABSENT_SECONDS = 2.0
MAX_ENTRIES = 200_000


class MediaKeyCache:
    """story_id -> key (or None), each with its own expiry; `fetch` loads what is missing."""

    def __init__(self, fetch: Callable[[list[str]], dict[str, bytes]],
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._clock = clock
        self._entries: dict[str, tuple[float, bytes | None]] = {}

    def of(self, story_ids: Iterable[str]) -> dict[str, bytes]:
        """The keys of these stories that exist, fetching only the ones not remembered."""
        found, missing, now = self._lookup(story_ids)
        if missing:
            self._add(found, missing, self._fetch(missing), now)
        return {s: key for s, key in found.items() if key is not None}

    async def of_async(self, story_ids: Iterable[str]) -> dict[str, bytes]:
        """`of` for the event loop: remembered keys at once, the rest fetched in a thread."""
        found, missing, now = self._lookup(story_ids)
        if missing:
            self._add(found, missing, await to_thread.run_sync(self._fetch, missing), now)
        return {s: key for s, key in found.items() if key is not None}

    def _lookup(self, story_ids: Iterable[str]
                ) -> tuple[dict[str, bytes | None], list[str], float]:
        """What is remembered and still fresh, and which stories need fetching."""
        now = self._clock()
        found: dict[str, bytes | None] = {}
        missing = []
        for story_id in dict.fromkeys(story_ids):
            entry = self._entries.get(story_id)
            if entry is not None and entry[0] > now:
                found[story_id] = entry[1]
            else:
                missing.append(story_id)
        return found, missing, now

    def _add(self, found: dict[str, bytes | None], missing: list[str],
             fetched: dict[str, bytes], now: float) -> None:
        self._remember(missing, fetched, now)
        found.update((s, fetched.get(s)) for s in missing)

    def _remember(self, story_ids: list[str], fetched: dict[str, bytes], now: float) -> None:
        if len(self._entries) + len(story_ids) > MAX_ENTRIES:
            self._entries = {}  # rare and cheap to refill; keeps memory bounded
        for story_id in story_ids:
            key = fetched.get(story_id)
            self._entries[story_id] = (now + (KEY_SECONDS if key else ABSENT_SECONDS), key)
