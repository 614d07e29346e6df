"""Stories' media keys: opened from the read models' wrapped copies, or read from CQL.

Tray and story reads get each story's key wrapped beside the story in Redis and open it here
(`WrappedKeyOpener`): the key-encryption key is read from CQL once per day of posting and
process, so those reads make no CQL round. Highlights, whose stories outlive Redis, read the
key store itself through `MediaKeyCache`.

A key only reaches a caller after the read model has said the story is visible to them, on
every request; the cache never decides visibility. A processed story's key never changes
while it exists, so a minute of caching serves nothing new. Absent keys are remembered for
a moment only, so a story whose media was just processed gets its key at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from anyio import to_thread

from projections.stores.story_keys import MediaKeyWrapper

__all__ = ["MediaKeyCache", "WrappedKeyOpener"]

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


class WrappedKeyOpener:
    """Opens wrapped keys on the event loop; a key-encryption key not known yet is read (once)
    in a thread."""

    def __init__(self, wrapper: MediaKeyWrapper):
        self._wrapper = wrapper

    async def open(self, wrapped: Mapping[str, bytes]) -> dict[str, bytes]:
        """story id -> key, for the copies that open (a destroyed KEK opens nothing)."""
        if not wrapped:
            return {}
        missing = self._wrapper.missing_keks(wrapped.values())
        if missing:
            await to_thread.run_sync(self._wrapper.load_keks, missing)
        opened = {}
        for story_id, copy in wrapped.items():
            key = self._wrapper.unwrap(story_id, copy)
            if key is not None:
                opened[story_id] = key
        return opened
