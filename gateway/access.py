"""Every request's id, its access log line and its metrics, in one plain ASGI layer.

The layer sits outside even Starlette's error middleware, so a 500 is counted, logged and
answered with its id like any other response. It takes the caller's `X-Request-ID` when it is
reasonable (1 to 128 visible ASCII characters), else makes one; the id is echoed on the
response (on a WebSocket's handshake too) and set in `core.logs.REQUEST_ID`, so every log line
written while serving the request carries it. The same goes for the trace: the gateway's span
is a child of the caller's W3C `traceparent` when it is valid, else the first span of a new
trace; it is echoed in `traceparent` and set in `core.tracing.TRACE`, so log lines carry its
trace id and the events the request emits carry a child of it. The access log line names the
route template, never the path (no ids in logs), and the user only by a keyed hash.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import REQUEST_ID, user_hash
from core.tracing import TRACE, TraceParent, parse_traceparent, reasonable_request_id
from gateway.metrics import observe_request

__all__ = ["RequestMiddleware", "request_id", "request_trace", "route_template", "note_user",
           "REQUEST_ID_HEADER", "TRACEPARENT_HEADER"]

REQUEST_ID_HEADER = b"x-request-id"
TRACEPARENT_HEADER = b"traceparent"
_USER = "stories.user"  # scope key: the authenticated caller, noted by the auth dependency
_STARTS = ("http.response.start", "websocket.http.response.start")

access_log = logging.getLogger("gateway.access")


def request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID if reasonable, else a new one (32 random hex digits)."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return reasonable_request_id(value) or os.urandom(16).hex()
    return os.urandom(16).hex()


def request_trace(headers: Iterable[tuple[bytes, bytes]]) -> TraceParent:
    """The gateway's span: a child of the caller's valid traceparent, else a new trace."""
    for name, value in headers:
        if name == TRACEPARENT_HEADER:
            parent = parse_traceparent(value)
            return parent.child() if parent is not None else TraceParent.start()
    return TraceParent.start()


def route_template(scope: Scope) -> str:
    """The matched route's template (bounded, no ids); unmatched paths share one."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def note_user(scope: Scope, user_id: str) -> None:
    """Remember who the request acts for, for its access log line."""
    scope[_USER] = user_id


class RequestMiddleware:
    """Request id, metrics and access log: one wrapper of `send`, one log call per request."""

    def __init__(self, app: ASGIApp, secret: bytes, access: bool = True):
        self.app = app
        self.secret = secret
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope["headers"])
        trace = request_trace(scope["headers"])
        echoed = [(REQUEST_ID_HEADER, rid.encode()), (TRACEPARENT_HEADER, str(trace).encode())]
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in _STARTS:
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *echoed]
            elif message["type"] == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", ()), *echoed]
            elif message["type"] == "websocket.close" and status == 500:
                status = 403  # closed before the handshake: the server answers 403
            await send(message)

        token, trace_token = REQUEST_ID.set(rid), TRACE.set(trace)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"] if kind == "http" else "WS"
            if kind == "http":
                observe_request(method, route, status, seconds)
            if self.access and access_log.isEnabledFor(logging.INFO):
                self._log(scope, method, route, status, seconds)
            TRACE.reset(trace_token)
            REQUEST_ID.reset(token)

    def _log(self, scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
        """One INFO line; the record is made directly, skipping the logger's walk up the stack
        for the caller's line (a third of the cost of a line; the formats do not show it)."""
        user = scope.get(_USER)
        who = user_hash(self.secret, user) if user else None
        ms = round(seconds * 1000, 2)
        fields = {"method": method, "route": route, "status": status, "duration_ms": ms,
                  "user": who}
        access_log.handle(access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "%s %s %d %.2f ms user=%s",
            (method, route, status, ms, who or "-"), None, extra=fields))
