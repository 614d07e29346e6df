"""The expiry timer: emits StoryExpired for every story whose time is up, once per story.

Every worker runs the timer; a short Redis claim per story lets one of them emit. If that
worker dies before the broker acknowledges, the claim lapses and another one emits: a
duplicate StoryExpired is harmless to the projections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import faust

import schemas
from core.clock import from_ms
from core.clock import now_ms as clock_ms
from core.metrics import STORIES_EXPIRED
from projections.runtime import Runtime
from projections.stores.expiry_index import (
    DueExpiry,
    claim_expiry,
    due_expiries,
    release_expiry,
    settle_expiry,
)
from projections.stores.redis_store import RedisReadModels
from streams.agents import add_timer
from streams.producer import Delivery

__all__ = ["add_expiry_timer", "emit_due_expiries"]

log = logging.getLogger(__name__)

CLAIM_MS = 30_000
DONE_MS = 86_400_000
DUE_PER_RUN = 2000


def emit_due_expiries(runtime: Runtime, now_ms: int | None = None) -> int:
    """Emit StoryExpired for due stories this worker claims; returns how many it emitted."""
    models = runtime.redis_models()  # of the serving version the worker follows
    now_ms = now_ms if now_ms is not None else clock_ms()
    pending = [
        (due.story_id, runtime.events.send("StoryExpired", _expired(due)))
        for due in due_expiries(models, now_ms, DUE_PER_RUN)
        if claim_expiry(models, due.story_id, CLAIM_MS)
    ]
    return _settle(models, pending)


def _expired(due: DueExpiry) -> dict[str, Any]:
    return schemas.new_event("StoryExpired", actor_id="system", story_id=due.story_id,
                             author_id=due.author_id, expires_at=from_ms(due.expires_at))


def _settle(models: RedisReadModels, pending: Sequence[tuple[str, Future[Delivery]]]) -> int:
    """Keep the claim of what was acknowledged; release the rest for another try."""
    emitted = 0
    for story_id, outcome in pending:
        try:
            outcome.result(timeout=30)
            settle_expiry(models, story_id, DONE_MS)
            emitted += 1
        except Exception as error:  # noqa: BLE001 - retried on the next run
            release_expiry(models, story_id)
            log.warning("StoryExpired not acknowledged, will retry: %s", error)
    STORIES_EXPIRED.inc(emitted)
    return emitted


def add_expiry_timer(app: faust.App, runtime: Runtime) -> None:
    """Every worker looks for due stories every `expiry_interval` seconds."""

    async def expire_due_stories() -> None:
        try:
            await asyncio.to_thread(emit_due_expiries, runtime)
        except Exception:  # the next tick tries again
            log.exception("expiry timer run failed")

    add_timer(app, "expire-stories", runtime.settings.expiry_interval, expire_due_stories)
