"""Live engagement for an author watching their story: views, reactions and answers as they come.

The worker publishes each new engagement once on the story's Redis channel; this relays it
over a WebSocket, with the story's current counters after every batch. The worker publishes
the story's end (deletion, expiry) on the same channel, and the feed ends at once; the
gateway announces a deletion made through the API as soon as the broker has it, the feed also
ends by itself at the story's expiry instant, and the check at each keep-alive stays as the
backstop for a note missed. Channels are sharded
(SPUBLISH / SSUBSCRIBE): on a Redis Cluster a story's channel lives on its slot's node only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import orjson
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect

from core.clients import is_cluster
from core.clock import from_ms, now_ms
from gateway.access import note_user
from gateway.auth import bearer_token
from gateway.commands import in_thread
from gateway.context import Gateway
from gateway.models import UUID_PATTERN
from gateway.problems import Problem, not_found, unauthorized
from gateway.reads import own_story
from projections.folds.lifecycle import ended_notes

log = logging.getLogger(__name__)

__all__ = ["serve_live", "announce_end", "KEEPALIVE_SECONDS"]

KEEPALIVE_SECONDS = 15.0
# Browsers cannot set headers on a WebSocket: they offer this subprotocol and the token as a
# second one, `new WebSocket(url, ["stories", "bearer." + token])`; the server picks "stories".
SUBPROTOCOL = "stories"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."
NOTE_FIELDS = ("type", "story_id", "user_id", "emoji", "sticker_id")
_STORY_ID = re.compile(UUID_PATTERN)


async def serve_live(websocket: WebSocket, gw: Gateway, story_id: str) -> None:
    """Authorise the author, then relay until the client leaves or the story ends."""
    if await _authorised(websocket, gw, story_id) is None:
        return
    offered = SUBPROTOCOL in websocket.scope.get("subprotocols", ())
    await websocket.accept(subprotocol=SUBPROTOCOL if offered else None)
    if is_cluster(gw.async_redis):
        # The cluster's pub/sub finds a channel's node from the slot map, read on first use.
        await gw.async_redis.initialize()
    pubsub = gw.async_redis.pubsub()
    try:
        await _relay_until_closed(websocket, gw, pubsub, story_id)
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()


async def _authorised(websocket: WebSocket, gw: Gateway, story_id: str) -> str | None:
    """The author's id; anyone else is refused exactly as for a story that does not exist."""
    try:
        user_id = await gw.tokens.user_async(_token(websocket))
        note_user(websocket.scope, user_id)
        expires_at = None
        if _STORY_ID.fullmatch(story_id):
            expires_at = await in_thread(_live_own_expiry, gw, user_id, story_id)
        if expires_at is None:
            raise not_found()
    except Problem as problem:
        await _deny(websocket, problem)
        return None
    websocket.state.author_id = user_id
    websocket.state.expires_at = expires_at
    return user_id


def _token(websocket: WebSocket) -> str:
    """The token of the Authorization header, else of the `bearer.<token>` subprotocol, else of
    `?token=` (kept for older clients: a query string ends up in proxies' logs)."""
    header = websocket.headers.get("authorization")
    if header:
        return bearer_token(header)
    for offered in websocket.scope.get("subprotocols", ()):
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return offered.removeprefix(TOKEN_SUBPROTOCOL_PREFIX)
    token = websocket.query_params.get("token", "")
    if not token:
        raise unauthorized("A token is required: an Authorization header, the subprotocols "
                           "`stories` and `bearer.<token>`, or `?token=<token>`.")
    return token


def _live_own_expiry(gw: Gateway, user_id: str, story_id: str) -> int | None:
    """When the caller's own live story expires (epoch ms); None for anyone else's."""
    story = own_story(gw.models.redis, user_id, story_id, now_ms())
    return None if story is None else story.expires_at


async def _deny(websocket: WebSocket, problem: Problem) -> None:
    """The same problem document an HTTP request gets, when the server can send one."""
    try:
        await websocket.send_denial_response(problem.response())
    except RuntimeError:
        await websocket.close(code=4000 + problem.status)


async def _relay_until_closed(
    websocket: WebSocket, gw: Gateway, pubsub: PubSub, story_id: str
) -> None:
    """Forward notes until either side stops; the other task is then cancelled."""
    forward = asyncio.create_task(_forward(websocket, gw, pubsub, story_id))
    listen = asyncio.create_task(_until_client_leaves(websocket))
    done, pending = await asyncio.wait({forward, listen}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _until_client_leaves(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


async def _next_message(pubsub: PubSub, timeout: float) -> dict[str, Any] | None:
    """The next message of a sharded channel: a cluster's pub/sub reads each node it follows."""
    if is_cluster(pubsub):
        return await pubsub.get_sharded_message(  # type: ignore[attr-defined]
            ignore_subscribe_messages=True, timeout=timeout)
    return await pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)


async def _forward(websocket: WebSocket, gw: Gateway, pubsub: PubSub, story_id: str) -> None:
    """Subscribe first, then send the counters, so nothing falls between the two; the first
    look at the story comes right after, so an end published before the subscription counts."""
    channel = gw.models.redis.live_channel(story_id)
    await pubsub.ssubscribe(channel)
    await _send_counters(websocket, gw, story_id)
    quiet = KEEPALIVE_SECONDS
    while True:
        if quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            following = await _keep_following(websocket, gw, pubsub, story_id, channel)
            if following is None:
                return
            channel = following
        left = _seconds_to_expiry(websocket)
        if left <= 0:  # the expiry instant itself: no need to wait for the worker's note
            await _end(websocket, story_id)
            return
        wait = min(1.0, left)
        message = await _next_message(pubsub, timeout=wait)
        if message is not None:
            notes = orjson.loads(message["data"])
            if any(note.get("type") == "ended" for note in notes):
                await _end(websocket, story_id)
                return
            for note in notes:
                await websocket.send_text(orjson.dumps(_public(note)).decode())
            await _send_counters(websocket, gw, story_id)
            continue
        quiet += wait


def _seconds_to_expiry(websocket: WebSocket) -> float:
    return websocket.state.expires_at / 1000 - now_ms() / 1000


async def _keep_following(
    websocket: WebSocket, gw: Gateway, pubsub: PubSub, story_id: str, channel: str
) -> str | None:
    """End with the story; move to the new channel when a replay switched the read models."""
    story = await in_thread(own_story, gw.models.redis, _author_of(websocket), story_id, now_ms())
    if story is None:
        await _end(websocket, story_id)
        return None
    current = gw.models.redis.live_channel(story_id)
    if current != channel:
        await pubsub.sunsubscribe(channel)
        await pubsub.ssubscribe(current)
    return current


async def _end(websocket: WebSocket, story_id: str) -> None:
    """The story was deleted or expired: say so, and close normally."""
    await websocket.send_text(orjson.dumps({"type": "ended", "story_id": story_id}).decode())
    await websocket.close(code=1000)


async def announce_end(gw: Gateway, story_id: str) -> None:
    """The author deleted the story and the broker has the deletion: their open feeds end now,
    without waiting for the worker's fold (which tells them again, harmlessly). A note that
    cannot be sent leaves that to the fold; the deletion itself is already accepted."""
    channel = gw.models.redis.live_channel(story_id)
    try:
        await gw.async_redis.execute_command(
            "SPUBLISH", channel, orjson.dumps(ended_notes([story_id])))
    except RedisError as error:
        log.warning("the end of story %s not announced on its live channel: %r", story_id, error)


def _author_of(websocket: WebSocket) -> str:
    return websocket.state.author_id


def _public(note: dict[str, Any]) -> dict[str, Any]:
    """What the author sees of one engagement: who, what, when."""
    shown = {k: note[k] for k in NOTE_FIELDS if k in note}
    if "at" in note:
        shown["at"] = from_ms(int(note["at"])).isoformat()
    return shown


async def _send_counters(websocket: WebSocket, gw: Gateway, story_id: str) -> None:
    counters = await in_thread(gw.models.redis.counters, story_id)
    await websocket.send_text(orjson.dumps({
        "type": "tallies",  # the message type clients know; it carries the counters
        "story_id": story_id,
        "views": counters.views,
        "unique_viewers": counters.unique_viewers,
        "replies": counters.replies,
        "reactions": counters.reactions,
        "answers": {sticker: int(fields.get("n", 0)) for sticker, fields in counters.stickers.items()},
    }).decode())
