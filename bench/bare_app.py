"""The bare endpoint the gateway is measured against: the same Redis reads, a raw ASGI app.

No framework, no authentication, no presentation: `/tray/{viewer}` runs `read_tray_async` and
`/stories/{viewer}/{author}` runs `visible_stories_async` on the event loop with
`redis.asyncio`, as the gateway's read routes do, and answers JSON. Served by uvicorn
(`create_bare_app` is a factory).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import orjson
import redis.asyncio

from core.clients import redis_async_client
from core.settings import get_settings
from projections.queries import CelebrityHints, read_tray_async, visible_stories_async
from projections.runtime import Runtime
from projections.stores.redis_store import RedisReadModels

__all__ = ["create_bare_app", "TRAY_LIMIT"]

TRAY_LIMIT = 30  # the gateway's default page
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _tray(models: RedisReadModels, client: redis.asyncio.Redis, viewer: str,
                hints: CelebrityHints) -> bytes:
    tray = await read_tray_async(models, client, viewer, int(time.time() * 1000),
                                 hints=hints)
    return orjson.dumps({"items": [asdict(item) for item in tray.items[:TRAY_LIMIT]],
                         "truncated": tray.truncated},
                        default=_bytes_as_base64)


def _bytes_as_base64(value: Any) -> str:
    """Wrapped media keys, written as they are stored (no key opened: no presentation)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


async def _stories(models: RedisReadModels, client: redis.asyncio.Redis, viewer: str,
                   author: str) -> bytes:
    stories = await visible_stories_async(models, client, viewer, author,
                                          int(time.time() * 1000))
    return b'{"stories":[' + b",".join(s.to_json() for s in stories) + b"]}"


async def _route(models: RedisReadModels, client: redis.asyncio.Redis, path: str,
                 hints: CelebrityHints) -> tuple[int, bytes]:
    parts = path.strip("/").split("/")
    if parts[0] == "tray" and len(parts) == 2:
        return 200, await _tray(models, client, parts[1], hints)
    if parts[0] == "stories" and len(parts) == 3:
        return 200, await _stories(models, client, parts[1], parts[2])
    if parts == ["healthz"]:
        return 200, b'{"status":"ok"}'
    return 404, b'{"status":"not found"}'


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_bare_app() -> Callable[[dict[str, Any], Receive, Send], Awaitable[None]]:
    """The ASGI callable, reading the live read models of the configured deployment."""
    settings = get_settings()
    models = Runtime(settings).redis_models()
    client = redis_async_client(settings)
    hints = CelebrityHints()  # the gateway's plan, hints included

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        status, body = await _route(models, client, scope["path"], hints)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app
