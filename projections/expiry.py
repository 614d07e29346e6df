"""The expiry timer: emits StoryExpired for every story whose time is up, once per story.

Every worker runs the timer; a short Redis claim per story lets one of them emit. If that
worker dies before the broker acknowledges, the claim lapses and another one emits: a
duplicate StoryExpired is harmless to the projections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import faust

import schemas
from core.metrics import STORIES_EXPIRED
from projections.runtime import Runtime
from projections.stores.keys import Kind

__all__ = ["add_expiry_timer", "emit_due_expiries"]

log = logging.getLogger(__name__)

CLAIM_MS = 30_000
DONE_MS = 86_400_000
DUE_PER_RUN = 2000


def emit_due_expiries(runtime: Runtime, now_ms: int | None = None) -> int:
    """Emit StoryExpired for due stories this worker claims; returns how many it emitted."""
    models = runtime.redis_models()  # of the live version the worker follows
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    due = models.client.zrangebyscore(models.k(Kind.EXPIRY_INDEX), "-inf", now_ms, 0, DUE_PER_RUN,
                                      withscores=True)
    pending = []
    for member, expires_at in due:
        story_id, author_id = member.decode().split("|", 1)
        claim = models.k(Kind.EXPIRY_CLAIM, story_id)
        if not models.client.set(claim, "1", nx=True, px=CLAIM_MS):
            continue
        record = schemas.new_event(
            "StoryExpired", actor_id="system", story_id=story_id, author_id=author_id,
            expires_at=datetime.fromtimestamp(expires_at / 1000, UTC),
        )
        pending.append((claim, runtime.events.send("StoryExpired", record)))
    return _settle(models.client, pending)


def _settle(client, pending) -> int:
    """Keep the claim of what was acknowledged; release the rest for another try."""
    emitted = 0
    for claim, outcome in pending:
        try:
            outcome.result(timeout=30)
            client.set(claim, "done", px=DONE_MS)
            emitted += 1
        except Exception as error:  # noqa: BLE001 - retried on the next run
            client.delete(claim)
            log.warning("StoryExpired not acknowledged, will retry: %s", error)
    STORIES_EXPIRED.inc(emitted)
    return emitted


def add_expiry_timer(app: faust.App, runtime: Runtime) -> None:
    @app.timer(interval=runtime.settings.expiry_interval, name="expire-stories")
    async def expire_due_stories() -> None:
        try:
            await asyncio.to_thread(emit_due_expiries, runtime)
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("expiry timer run failed")
