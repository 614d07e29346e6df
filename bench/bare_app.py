"""The bare endpoint the gateway is measured against: the same Redis reads, a raw ASGI app.

No framework, no authentication, no presentation: `/tray/{viewer}` runs `read_tray` and
`/stories/{viewer}/{author}` runs `visible_stories`, in the threadpool as the gateway's sync
routes do, and answers JSON. Served by uvicorn (`create_bare_app` is a factory).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import orjson
from anyio import to_thread

from projections.queries import read_tray, visible_stories
from projections.stores.redis_store import RedisReadModels
from stories.runtime import Runtime
from stories.settings import get_settings

__all__ = ["create_bare_app", "TRAY_LIMIT"]

TRAY_LIMIT = 30  # the gateway's default page
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _tray(models: RedisReadModels, viewer: str) -> bytes:
    items = read_tray(models, viewer, int(time.time() * 1000))[:TRAY_LIMIT]
    return orjson.dumps({"items": [asdict(item) for item in items]})


def _stories(models: RedisReadModels, viewer: str, author: str) -> bytes:
    stories = visible_stories(models, viewer, author, int(time.time() * 1000))
    return b'{"stories":[' + b",".join(s.to_json() for s in stories) + b"]}"


def _route(models: RedisReadModels, path: str) -> tuple[int, bytes]:
    parts = path.strip("/").split("/")
    if parts[0] == "tray" and len(parts) == 2:
        return 200, _tray(models, parts[1])
    if parts[0] == "stories" and len(parts) == 3:
        return 200, _stories(models, parts[1], parts[2])
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
    models = Runtime(get_settings()).redis_models()

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        status, body = await to_thread.run_sync(_route, models, scope["path"])
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return app
