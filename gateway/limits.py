"""The request body limit: refused with 413 before a large body is read into memory."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.problems import too_large

__all__ = ["BodyLimitMiddleware"]


class _BodyTooLarge(HTTPException):
    """The streamed body went past the limit (an HTTPException, so routes pass it through)."""

    def __init__(self, limit: int):
        super().__init__(413, too_large(limit).document.detail)


class BodyLimitMiddleware:
    """Refuses bodies over `limit` bytes, by Content-Length or while they stream in."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_length(scope) > self.limit:
            await too_large(self.limit).response()(scope, receive, send)
            return
        started = False

        async def note_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._counting(receive), note_start)
        except _BodyTooLarge:
            if not started:
                await too_large(self.limit).response()(scope, receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _BodyTooLarge(self.limit)
            return message

        return counted
